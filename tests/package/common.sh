# What tests/package/deb_test.sh and image_test.sh share; sourced by both after
# they set $src (the checkout). The scan of an artifact's unpacked tree for build
# paths and secrets lives here once.
# shellcheck shell=bash

# Steps with their timing.
step() { step_start=$SECONDS; echo "== $*"; }
done_step() { echo "   ok ($((SECONDS - step_start)) s)"; }

# Build paths: the directory holding this checkout (e.g. /work/ for /work/main).
build_path="$(dirname "$src")/"
[ "$build_path" != "//" ] || build_path="$src/"
# The Debian package that ships this machine's copy of library $1.
debian_package_of() {
  local p owner
  for p in "/usr/lib/x86_64-linux-gnu/$1" "/lib/x86_64-linux-gnu/$1"; do
    if owner="$(dpkg -S "$p" 2>/dev/null)"; then echo "${owner%%:*}"; return; fi
  done
  echo unknown
}
# Files under $1 holding a build path or a test secret; an access key id that is a
# documented fake is reported and allowed.
scan_tree() {
  local tree="$1" what="$2" bad=0 hits
  if hits="$(grep -a -r -l -F -- "$build_path" "$tree")"; then
    echo "$what: files holding the build path $build_path:" >&2
    while read -r f; do
      echo "  ${f#"$tree"}: $(grep -a -o -F -- "$build_path" "$f" | head -1)$(strings -a "$f" |
        grep -F -m 3 -- "$build_path" | tr '\n' ' ')" >&2
    done <<<"$hits"
    bad=1
  fi
  if hits="$(grep -a -r -l -E 'wJalrXUtnFEMI|test-secret-not-real|aws_secret_access_key *= *[A-Za-z0-9/+]{40}' "$tree")"; then
    echo "$what: files holding a test secret:" >&2
    sed "s#^$tree#  #" <<<"$hits" >&2
    bad=1
  fi
  # A PEM private key: a failure in keyrotor's own files; in a bundled shared library
  # (GnuTLS carries its self-test keys) it is reported with the Debian package it is from.
  if hits="$(grep -a -r -l -z -P -- '-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40}' "$tree")"; then
    while read -r f; do
      case "${f##*/}" in
        lib*.so*)
          echo "   note: $what: ${f#"$tree"} holds PEM private keys (library self-test data; Debian package" \
            "$(debian_package_of "${f##*/}"))" ;;
        *) echo "$what: ${f#"$tree"} holds a PEM private key" >&2; bad=1 ;;
      esac
    done <<<"$hits"
  fi
  local ids
  ids="$(grep -a -r -o -h -E '\b(AKIA|ASIA)[A-Z0-9]{16}\b' "$tree" | sort -u || true)"
  for id in $ids; do
    case "$id" in
      ASIAEXAMPLETEMPORARY) echo "   note: $what holds $id (keyrotor demo's made-up session key id; not a secret)" ;;
      *) echo "$what: an access key id $id" >&2; bad=1 ;;
    esac
  done
  return "$bad"
}
