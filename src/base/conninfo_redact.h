// Connection strings carry passwords: a PostgreSQL URI
// (postgresql://user:PASSWORD@host/db?password=...), libpq's keyword/value
// form (host=h password='...'), or any URL with user info
// (https://TOKEN@host). libpq quotes them, whole or in pieces, in its error
// messages. This is the one place that takes them out of text meant for
// people: every libpq/libpqxx error, every message naming a state URL.
#pragma once

#include <string>
#include <string_view>

namespace keyrotor {

// `text` with every password it holds replaced by "****":
//  - the user info of each URL (scheme://USERINFO@host), whole: libpq reads
//    a password up to the '@', so '?', '#', ':' and percent-escapes inside it
//    are all covered; when the password itself holds a raw '/' or '@' the
//    user info is taken up to the last '@' of the URL, erring on the side of
//    hiding too much;
//  - the value of every `password=` or `sslpassword=` (a URI query parameter,
//    or a keyword/value pair, quoted '...' with \' escapes, or bare).
// When `conninfo` (the connection string the text is about) is given, also
// every occurrence of the passwords it holds, raw and percent-decoded, and
// every double-quoted string holding a piece of one: a malformed URI makes
// libpq quote a fragment of it (`invalid integer value "pa" for connection
// option "port"` for a password "pa/ss").
std::string RedactConnectionSecrets(std::string_view text, std::string_view conninfo = {});

// True when `value` holds a password or URL user info in one of the forms
// above (RedactConnectionSecrets would change it): such a value is never
// passed to a child process.
bool HoldsConnectionSecret(std::string_view value);

}  // namespace keyrotor
