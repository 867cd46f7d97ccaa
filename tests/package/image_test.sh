#!/usr/bin/env bash
# Proves the container image without a container engine:
#   tests/package/image_test.sh OUT_DIR VERSION
# where OUT_DIR holds keyrotor-image-oci/ and keyrotor-image-VERSION.tar
# (packaging/make-image). As root; needs umoci, skopeo and /usr/bin/python3.
#
#  1. The OCI layout: every blob matches its digest; the config is linux/amd64, runs
#     as a numeric non-root user (the uid deploy/kubernetes/cronjob.yaml runs as),
#     the entrypoint is /usr/local/bin/keyrotor, the org.opencontainers.image.*
#     labels are there (version = VERSION), and no environment variable carries a
#     credential or a secret.
#  2. The docker-archive: `skopeo inspect` reads it, it is named keyrotor:VERSION and
#     its config says the same as the OCI one.
#  3. The root file system (umoci unpack): no build path and no test secret in any
#     file (nor in OUT_DIR/keyrotor_VERSION_amd64.deb, when it is there).
#  4. In that root file system, by chroot, as the image's user, in its working
#     directory, with its environment and only /proc, /dev/null and /dev/urandom
#     added: the entrypoint with the default Cmd exits 0, and `keyrotor demo` runs to
#     completion; then again with the root file system read-only and tmpfs at /tmp
#     and /var/lib/keyrotor (HOME), as deploy/kubernetes/cronjob.yaml runs it.
# Every mount is undone on exit, whatever happened; the unpacked tree is then deleted.
# shellcheck disable=SC2001  # sed over several lines of hits
set -euo pipefail

die() { echo "image_test: FAIL: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 OUT_DIR VERSION"
out="$(readlink -f "$1")"
version="$2"
layout="$out/keyrotor-image-oci"
archive="$out/keyrotor-image-$version.tar"
[ -f "$layout/index.json" ] || die "no OCI layout at $layout (packaging/make-image makes it)"
[ -f "$archive" ] || die "no docker-archive $archive"
[ "$(id -u)" -eq 0 ] || die "must run as root (umoci unpack, chroot, mount)"
for tool in umoci skopeo /usr/bin/python3 chroot mount umount mknod; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian packages umoci skopeo python3)"
done
src="$(cd "$(dirname "$0")/../.." && pwd)"
python=(/usr/bin/python3 -E -s -B)

work="$(mktemp -d /tmp/keyrotor-image-test.XXXXXX)"
mounts_below() { awk -v r="$work" 'index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }
cleanup() {
  local rc=$? m
  set +e
  trap - EXIT INT TERM
  for m in $(mounts_below); do
    umount "$m" 2>/dev/null || umount -l "$m" || echo "image_test: cannot unmount $m" >&2
  done
  if [ -n "$(mounts_below)" ]; then
    echo "image_test: mounts remain below $work; it is NOT deleted:" >&2
    mounts_below >&2
    rc=1
  else
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

total_start=$SECONDS
step_start=$SECONDS

. "$src/tests/package/common.sh"

# 1. The OCI layout and its config; writes what the runs below need to $work/run.json.
step "OCI layout $layout, tag $version"
"${python[@]}" - "$layout" "$version" "$src/deploy/kubernetes/cronjob.yaml" "$work/run.json" <<'EOF'
import hashlib, json, os, re, sys

layout, version, cronjob, run_out = sys.argv[1:]
failures = []
def check(ok, message):
    if not ok:
        failures.append(message)
        print("image_test: FAIL: " + message, file=sys.stderr)
    return ok

def blob(descriptor):
    algo, _, digest = descriptor["digest"].partition(":")
    with open(os.path.join(layout, "blobs", algo, digest), "rb") as f:
        data = f.read()
    check(algo == "sha256" and hashlib.sha256(data).hexdigest() == digest, "blob %s: digest mismatch" % digest)
    check(len(data) == descriptor["size"], "blob %s: size %d, descriptor says %d" % (digest, len(data), descriptor["size"]))
    return data

with open(os.path.join(layout, "oci-layout")) as f:
    check(json.load(f).get("imageLayoutVersion") == "1.0.0", "oci-layout: imageLayoutVersion")
with open(os.path.join(layout, "index.json")) as f:
    index = json.load(f)
tagged = [m for m in index.get("manifests", [])
          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == version]
if not check(len(tagged) == 1, "index.json: %d manifests tagged %s" % (len(tagged), version)):
    sys.exit(1)
manifest = json.loads(blob(tagged[0]))
config = json.loads(blob(manifest["config"]))
for layer in manifest["layers"]:
    blob(layer)
check(len(manifest["layers"]) >= 1, "the image has no layer")
check((config.get("os"), config.get("architecture")) == ("linux", "amd64"),
      "platform %s/%s" % (config.get("os"), config.get("architecture")))

c = config.get("config", {})
user = c.get("User", "")
m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
check(bool(m), "User %r is not numeric uid[:gid] (Kubernetes' runAsNonRoot cannot check a name)" % user)
uid, gid = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, 0)
check(uid != 0 and gid != 0, "User %r is root" % user)
with open(cronjob) as f:
    manifest_text = f.read()
run_as = set(int(x) for x in re.findall(r"^\s*runAsUser:\s*(\d+)\s*$", manifest_text, re.M))
check(run_as <= {uid}, "cronjob.yaml runs as uid %s, the image's user is %d" % (sorted(run_as), uid))
images = re.findall(r"^\s*image:\s*(\S+)\s*$", manifest_text, re.M)
check(all(i.endswith(":" + version) for i in images), "cronjob.yaml's image %s is not tagged %s" % (images, version))
with open(os.path.join(os.path.dirname(cronjob), "kustomization.yaml")) as f:
    tags = re.findall(r"^\s*newTag:\s*\"?([^\s\"]+)", f.read(), re.M)
check(all(t == version for t in tags), "kustomization.yaml's newTag %s is not %s" % (tags, version))

entrypoint = c.get("Entrypoint") or []
check(entrypoint == ["/usr/local/bin/keyrotor"], "Entrypoint %r" % entrypoint)
commands = re.findall(r'^\s*command:\s*\["([^"]+)"', manifest_text, re.M)
check(all(cmd == entrypoint[0] for cmd in commands), "cronjob.yaml's command %s is not the entrypoint" % commands)

labels = c.get("Labels") or {}
for key in ("title", "version", "revision", "created", "source", "description", "licenses"):
    check(bool(labels.get("org.opencontainers.image." + key)), "label org.opencontainers.image.%s missing" % key)
check(labels.get("org.opencontainers.image.version") == version, "version label %r" % labels.get("org.opencontainers.image.version"))
check(labels.get("org.opencontainers.image.created") == config.get("created"), "created label vs config.created")

env = c.get("Env") or []
for entry in env:
    name, _, value = entry.partition("=")
    check(not re.search(r"SECRET|PASSW|TOKEN|CREDENTIAL|KEY|AWS_", name, re.I),
          "Env %s looks like a credential setting" % name)
    check(not re.search(r"(AKIA|ASIA)[A-Z0-9]{16}|[A-Za-z0-9/+]{40}", value), "Env %s holds what looks like a key" % name)
env_names = [e.partition("=")[0] for e in env]
check("PATH" in env_names, "Env has no PATH")

print("   User %s, Entrypoint %s, Cmd %s, WorkingDir %s" % (user, entrypoint, c.get("Cmd"), c.get("WorkingDir")))
print("   Env %s" % env)
for key in sorted(labels):
    print("   label %s=%s" % (key, labels[key]))
print("   %d layer(s), %d bytes compressed" % (len(manifest["layers"]), sum(l["size"] for l in manifest["layers"])))
with open(run_out, "w") as f:
    json.dump({"uid": uid, "gid": gid, "entrypoint": entrypoint, "cmd": c.get("Cmd") or [],
               "env": env, "workingdir": c.get("WorkingDir") or "/", "config": c,
               "labels": labels}, f)
sys.exit(1 if failures else 0)
EOF
done_step

# 2. The docker-archive.
step "docker-archive $(basename "$archive")"
skopeo --insecure-policy inspect "docker-archive:$archive" >"$work/inspect.json" || die "skopeo inspect cannot read $archive"
skopeo --insecure-policy inspect --config "docker-archive:$archive" >"$work/inspect-config.json" ||
  die "skopeo inspect --config cannot read $archive"
tar -xOf "$archive" manifest.json >"$work/archive-manifest.json" || die "$archive has no manifest.json"
"${python[@]}" - "$work/run.json" "$work/inspect.json" "$work/inspect-config.json" "$work/archive-manifest.json" "$version" <<'EOF'
import json, sys
run, inspect, config, manifest = (json.load(open(p)) for p in sys.argv[1:5])
version = sys.argv[5]
failures = []
def check(ok, message):
    if not ok:
        failures.append(message)
        print("image_test: FAIL: docker-archive: " + message, file=sys.stderr)
tags = [t for m in manifest for t in m.get("RepoTags") or []]
# skopeo writes the name fully qualified; docker load shows it as keyrotor:VERSION.
check(tags in (["keyrotor:" + version], ["docker.io/library/keyrotor:" + version]),
      "RepoTags %r, expected keyrotor:%s" % (tags, version))
check(inspect.get("Labels") == run["labels"], "labels differ from the OCI image's")
check((inspect.get("Os"), inspect.get("Architecture")) == ("linux", "amd64"), "platform")
c = config.get("config", {})
for key in ("User", "Entrypoint", "Cmd", "Env", "WorkingDir"):
    check(c.get(key) == run["config"].get(key), "%s %r differs from the OCI image's %r" % (key, c.get(key), run["config"].get(key)))
print("   RepoTags %s, %d layer(s), labels and config as in the OCI image" % (tags, len(inspect.get("Layers", []))))
sys.exit(1 if failures else 0)
EOF
done_step

# 3. The root file system.
step "umoci unpack, then scan for build paths ($build_path) and test secrets"
umoci --log error unpack --image "$layout:$version" "$work/bundle" || die "umoci unpack failed"
rootfs="$work/bundle/rootfs"
for f in /usr/local/bin/keyrotor /usr/local/lib/keyrotor/keyrotor /usr/local/lib/keyrotor/ld-linux-x86-64.so.2 \
         /etc/ssl/certs/ca-certificates.crt /etc/passwd /etc/group; do
  [ -e "$rootfs$f" ] || die "the image has no $f"
done
uid="$("${python[@]}" -c 'import json,sys; print(json.load(open(sys.argv[1]))["uid"])' "$work/run.json")"
grep -q "^[^:]*:x:$uid:" "$rootfs/etc/passwd" || die "/etc/passwd has no user $uid"
[ "$(stat -c %a "$rootfs/tmp")" = 1777 ] || die "/tmp is not mode 1777"
echo "   $(find "$rootfs" | wc -l) entries, $(du -sh "$rootfs" | cut -f1) unpacked"
scan_tree "$rootfs" "the image" || die "the image holds a build path or a secret"
deb="$out/keyrotor_${version}_amd64.deb"
if [ -f "$deb" ]; then
  mkdir -p "$work/deb/DEBIAN"
  dpkg-deb -x "$deb" "$work/deb" && dpkg-deb -e "$deb" "$work/deb/DEBIAN"
  scan_tree "$work/deb" "the .deb" || die "$deb holds a build path or a secret"
  echo "   $(basename "$deb"): scanned too"
else
  echo "   note: no $(basename "$deb") in $out; the .deb was not scanned"
fi
done_step

# 4. Runs, as the image's config says. The runner: chroot, working directory,
# user and groups, the config's Env (plus KEY=VALUE given), entrypoint + arguments.
cat >"$work/run.py" <<'EOF'
import json, os, sys
spec_path, root = sys.argv[1], sys.argv[2]
extra_env, args = [], sys.argv[3:]
while args and args[0] != "--":
    extra_env.append(args.pop(0))
args = args[1:]
spec = json.load(open(spec_path))
env = dict(e.partition("=")[::2] for e in spec["env"] + extra_env)
os.chroot(root)
os.chdir(env.get("KEYROTOR_TEST_WORKDIR", spec["workingdir"]))
env.pop("KEYROTOR_TEST_WORKDIR", None)
os.setgroups([])
os.setgid(spec["gid"])
os.setuid(spec["uid"])
argv = spec["entrypoint"] + args
os.execve(argv[0], argv, env)
EOF
mkdir -p "$rootfs/proc" "$rootfs/dev"
mknod -m 0666 "$rootfs/dev/null" c 1 3
mknod -m 0666 "$rootfs/dev/urandom" c 1 9
mount -t proc proc "$rootfs/proc"

step "entrypoint with the default Cmd, as uid $uid"
cmd="$("${python[@]}" -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["cmd"]))' "$work/run.json")"
# shellcheck disable=SC2086
"${python[@]}" "$work/run.py" "$work/run.json" "$rootfs" -- $cmd >"$work/cmd.log" 2>&1 ||
  { cat "$work/cmd.log" >&2; die "the entrypoint with Cmd [$cmd] failed"; }
head -1 "$work/cmd.log" | sed 's/^/   /'
done_step

step "keyrotor demo in the image's root file system, as uid $uid"
"${python[@]}" "$work/run.py" "$work/run.json" "$rootfs" -- demo >"$work/demo.log" 2>&1 ||
  { tail -40 "$work/demo.log" >&2; die "keyrotor demo failed in the image"; }
tail -3 "$work/demo.log" | sed 's/^/   /'
done_step

step "keyrotor demo with the root file system read-only, tmpfs at /tmp and /var/lib/keyrotor (the CronJob's way)"
ro="$work/ro"
mkdir "$ro"
mount --bind "$rootfs" "$ro"
mount -o remount,bind,ro "$ro"
mount -t tmpfs -o size=64m,mode=1777 tmpfs "$ro/tmp"
mount -t tmpfs -o "size=64m,mode=0700,uid=$uid,gid=$uid" tmpfs "$ro/var/lib/keyrotor"
mount -t proc proc "$ro/proc"
if touch "$ro/usr/local/write-test" 2>/dev/null; then die "the read-only view is writable"; fi
"${python[@]}" "$work/run.py" "$work/run.json" "$ro" HOME=/var/lib/keyrotor KEYROTOR_TEST_WORKDIR=/var/lib/keyrotor -- demo \
  >"$work/demo-ro.log" 2>&1 || { tail -40 "$work/demo-ro.log" >&2; die "keyrotor demo failed on the read-only root"; }
tail -1 "$work/demo-ro.log" | sed 's/^/   /'
done_step

echo "image_test: PASS: keyrotor:$version ($(du -sb "$layout" | cut -f1) bytes OCI layout, $(stat -c %s "$archive") bytes docker-archive) in $((SECONDS - total_start)) s"
