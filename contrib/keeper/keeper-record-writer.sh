#!/bin/sh
# keeper-record-writer: the record writer for `keyrotor keeper`.
#
# Reads one JSON line on stdin:
#   {"aws_access_key_id": "...", "aws_secret_access_key": "...", "CreateDate": "...",
#    "Access_Key_ID_Removed_during_previous_rotation": "..."}
# and stores those fields in the Keeper record of the rotated user with Keeper
# Commander (`keeper record-update`). Exit 0 only once the record holds the
# new key: on any other exit keyrotor deletes the new key and keeps the old one.
#
# Environment:
#   KEEPER_USER_RECORD_UID  the record to update (keyrotor sets it from the
#                           payload's userRecordUid); or pass it as $1
#   KEEPER_COMMANDER        the Commander binary (default: keeper)
#   KEEPER_WRITER_OUT       write the JSON to this file (mode 0600, atomically)
#                           instead of calling Commander: for tests and for
#                           setups where another job picks the file up
#
# Never print the input: keyrotor discards this script's stdout, but quotes
# its stderr (with the secret masked) when it fails.
set -eu
umask 077

doc=$(cat)
# keyrotor writes flat JSON whose values never contain quotes (key ids and
# secrets are [A-Za-z0-9/+=], the date ISO 8601), so sed can read it.
field() { printf '%s\n' "$doc" | sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"; }
id=$(field aws_access_key_id)
secret=$(field aws_secret_access_key)
created=$(field CreateDate)
removed=$(field Access_Key_ID_Removed_during_previous_rotation)
if [ -z "$id" ] || [ -z "$secret" ]; then
  echo "keeper-record-writer: stdin has no aws_access_key_id and aws_secret_access_key" >&2
  exit 2
fi

if [ -n "${KEEPER_WRITER_OUT:-}" ]; then
  tmp="$KEEPER_WRITER_OUT.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  printf '%s\n' "$doc" >"$tmp"
  mv -f "$tmp" "$KEEPER_WRITER_OUT"
  trap - EXIT
  exit 0
fi

uid=${KEEPER_USER_RECORD_UID:-${1:-}}
if [ -z "$uid" ]; then
  echo "keeper-record-writer: no record to update (KEEPER_USER_RECORD_UID or \$1)" >&2
  exit 2
fi
# Commander takes field values as arguments: the secret is visible in this
# host's process list while it runs. Run the gateway on a host you trust with
# it, or replace this with a Keeper Secrets Manager SDK call.
"${KEEPER_COMMANDER:-keeper}" record-update --record "$uid" \
  "c.text.aws_access_key_id=$id" \
  "c.secret.aws_secret_access_key=$secret" \
  "c.text.CreateDate=$created" \
  "c.text.Access_Key_ID_Removed_during_previous_rotation=$removed" >/dev/null
