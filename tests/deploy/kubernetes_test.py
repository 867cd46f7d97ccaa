"""deploy/kubernetes: the manifests parse, fit together, are locked down, and run a
command line the binary accepts over a config it accepts.

Run: /usr/bin/python3 -E -s -B tests/deploy/kubernetes_test.py build/keyrotor
"""

import glob
import os
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_common import (DEPLOY_DIR, binary_from_argv, check, check_command_line, check_equal,  # noqa: E402
                           check_runs_offline, config_check, finish, require_debian_module)

BINARY = binary_from_argv(sys.argv)
yaml = require_debian_module("yaml", "python3-yaml")
K8S_DIR = os.path.join(DEPLOY_DIR, "kubernetes")

docs = {}
for path in sorted(glob.glob(os.path.join(K8S_DIR, "*.yaml"))):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc is None:
                continue
            check("kind" in doc and "apiVersion" in doc, "%s: a document without kind/apiVersion" % path)
            docs.setdefault(doc["kind"], []).append(doc)


def one(kind):
    found = docs.get(kind, [])
    check_equal(len(found), 1, "number of %s manifests" % kind)
    return found[0] if found else {}


cron = one("CronJob")
sa = one("ServiceAccount")
cm = one("ConfigMap")
pvc = one("PersistentVolumeClaim")
kustomization = one("Kustomization")

# kustomization.yaml lists every manifest file, and nothing else.
listed = set(kustomization.get("resources", []))
files = {os.path.basename(p) for p in glob.glob(os.path.join(K8S_DIR, "*.yaml"))} - {"kustomization.yaml"}
check_equal(listed, files, "kustomization resources")

# Everything in one namespace.
namespace = cron.get("metadata", {}).get("namespace")
for kind in ("ServiceAccount", "ConfigMap", "PersistentVolumeClaim"):
    check_equal(one(kind).get("metadata", {}).get("namespace"), namespace, kind + " namespace")

# The CronJob: batch/v1, never two runs at once.
check_equal(cron.get("apiVersion"), "batch/v1", "CronJob apiVersion")
spec = cron.get("spec", {})
check_equal(spec.get("concurrencyPolicy"), "Forbid", "CronJob concurrencyPolicy")
check_equal(len(spec.get("schedule", "").split()), 5, "CronJob schedule fields")
pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})
check(pod.get("restartPolicy") in ("Never", "OnFailure"), "pod restartPolicy %r" % pod.get("restartPolicy"))

# Web identity: the pod runs as the ServiceAccount that carries the role annotation.
check_equal(pod.get("serviceAccountName"), sa.get("metadata", {}).get("name"), "serviceAccountName vs ServiceAccount")
role = sa.get("metadata", {}).get("annotations", {}).get("eks.amazonaws.com/role-arn", "")
check(role.startswith("arn:aws:iam::") and ":role/" in role, "ServiceAccount role-arn annotation %r" % role)
# keyrotor's chain must not be handed static keys beside the web identity.
containers = pod.get("containers", [])
check_equal(len(containers), 1, "containers")
container = containers[0] if containers else {}
env_names = {e.get("name") for e in container.get("env", [])}
for banned in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
    check(banned not in env_names, "container env sets %s: it would shadow the web identity" % banned)
check(container.get("envFrom") is None, "container envFrom could inject static credentials")

# Pod and container security contexts.
psc = pod.get("securityContext", {})
check_equal(psc.get("runAsNonRoot"), True, "pod runAsNonRoot")
check(isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] > 0, "pod runAsUser must be a non-zero uid")
check_equal(psc.get("seccompProfile", {}).get("type"), "RuntimeDefault", "pod seccompProfile")
csc = container.get("securityContext", {})
check_equal(csc.get("readOnlyRootFilesystem"), True, "container readOnlyRootFilesystem")
check_equal(csc.get("allowPrivilegeEscalation"), False, "container allowPrivilegeEscalation")
check_equal(csc.get("capabilities", {}).get("drop"), ["ALL"], "container capabilities.drop")
check(not csc.get("capabilities", {}).get("add"), "container adds capabilities")
check(not csc.get("privileged"), "container is privileged")
check(csc.get("runAsUser", 1) != 0, "container runs as uid 0")

# The command line: keyrotor run --config <the mounted ConfigMap key>.
argv = list(container.get("command", [])) + list(container.get("args", []))
command, flags = check_command_line(BINARY, argv, "CronJob container")
check_equal(command, "run", "container keyrotor subcommand")
config_path = flags.get("--config", "")

# Volumes: the config from the ConfigMap, read-only, at --config's directory; the journal on the claim.
volumes = {v.get("name"): v for v in pod.get("volumes", [])}
mounts = {m.get("mountPath"): m for m in container.get("volumeMounts", [])}
config_mount = mounts.get(os.path.dirname(config_path), {})
check_equal(config_mount.get("readOnly"), True, "config volume mounted read-only at " + os.path.dirname(config_path))
config_volume = volumes.get(config_mount.get("name"), {})
check_equal(config_volume.get("configMap", {}).get("name"), cm.get("metadata", {}).get("name"),
            "config volume's ConfigMap")
toml_key = os.path.basename(config_path)
toml_text = cm.get("data", {}).get(toml_key)
check(toml_text is not None, "ConfigMap has no key %r (the file --config names)" % toml_key)

config = tomllib.loads(toml_text or "")
state = config.get("state", "")
if state.startswith(("postgresql://", "postgres://")):
    check(True, "journal in PostgreSQL")
else:
    # A file journal must be on the persistent volume, or each pod starts with none.
    state_dir = os.path.dirname(state)
    journal_mount = mounts.get(state_dir, {})
    check(bool(journal_mount) and not journal_mount.get("readOnly"), "no writable mount at %s for state %s"
          % (state_dir, state))
    journal_volume = volumes.get(journal_mount.get("name"), {})
    check_equal(journal_volume.get("persistentVolumeClaim", {}).get("claimName"),
                pvc.get("metadata", {}).get("name"), "journal volume's claim")
    check("ReadWriteOnce" in pvc.get("spec", {}).get("accessModes", []), "journal claim accessModes")
# The claim's comments point at the PostgreSQL alternative.
with open(os.path.join(K8S_DIR, "journal-pvc.yaml")) as f:
    check("postgresql://" in f.read(), "journal-pvc.yaml does not mention state = \"postgresql://...\"")

# Every other path keyrotor might write is a volume, since the root filesystem is read-only.
for path, mount in mounts.items():
    check(mount.get("name") in volumes, "mount %s names no volume" % path)

summary = config_check(BINARY, toml_text or "", "ConfigMap keyrotor.toml")
check(state in summary, "config check does not report the journal %s:\n%s" % (state, summary))

# The container's command line, run as written over that config (journal in a temp dir,
# AWS unreachable): accepted, and it gets as far as asking AWS.
check_runs_offline(BINARY, argv, toml_text or "", state, "CronJob container")

finish("deploy.kubernetes")
