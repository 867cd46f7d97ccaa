// The one Journal implementation, above every store (journal_store.h): it
// seals each secret before the store sees it and opens it on the way back, so
// sealing, the binding of a box to its rotation and slot, and wiping exist
// once whatever the storage. A box is SealingKey::Seal(secret,
// rotation_id + "/" + slot): moved to another rotation or slot, it does not
// open.
#pragma once

#include <memory>
#include <string>

#include "engine/journal.h"
#include "engine/journal_store.h"

namespace keyrotor::engine {

// `key_file` holds the sealing key (base/seal.h). It is read, or created (0600),
// on first use, so a journal that never holds a secret never needs one; a
// store that keeps a key-check box refuses a key that is not the one its boxes
// were sealed with, and refuses to create a key file when it already has one.
std::unique_ptr<Journal> NewSealingJournal(std::unique_ptr<JournalStore> store, std::string key_file);

}  // namespace keyrotor::engine
