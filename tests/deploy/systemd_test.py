"""deploy/systemd: the units parse, are hardened, and run command lines the binary accepts.

Run: /usr/bin/python3 -E -s -B tests/deploy/systemd_test.py build/keyrotor
"""

import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_common import (DEPLOY_DIR, binary_from_argv, check, check_command_line, check_equal,  # noqa: E402
                           check_runs_offline, config_check, finish, split_exec)

BINARY = binary_from_argv(sys.argv)
UNIT_DIR = os.path.join(DEPLOY_DIR, "systemd")
CONFIG = "/etc/keyrotor/keyrotor.toml"
STATE_DIR = "/var/lib/keyrotor"


def parse_unit(name):
    """[(section, key, value)] in file order: systemd keys repeat, and order matters (an empty value resets)."""
    entries, section = [], None
    with open(os.path.join(UNIT_DIR, name)) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            check("=" in line, "%s:%d: not KEY=VALUE: %r" % (name, number, line))
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
    return entries


def values(entries, section, key):
    return [v for s, k, v in entries if s == section and k == key]


def last(entries, section, key):
    found = values(entries, section, key)
    return found[-1] if found else None


def check_hardening(name, unit):
    s = "Service"
    for key, expected in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                          ("ProtectHome", "yes"), ("StateDirectory", "keyrotor"), ("UMask", "0077"),
                          ("PrivateDevices", "yes"), ("RestrictSUIDSGID", "yes"), ("LockPersonality", "yes"),
                          ("MemoryDenyWriteExecute", "yes"), ("RestrictNamespaces", "yes"),
                          ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                          ("ProtectControlGroups", "yes"), ("SystemCallArchitectures", "native")]:
        check_equal(last(unit, s, key), expected, "%s: %s" % (name, key))
    # A dedicated, unprivileged identity.
    check(last(unit, s, "DynamicUser") == "yes" or last(unit, s, "User") == "keyrotor",
          "%s: neither DynamicUser=yes nor User=keyrotor" % name)
    check(last(unit, s, "User") not in ("root", "0"), "%s: runs as root" % name)
    # No capabilities at all: the last CapabilityBoundingSet= is empty, and none is added back.
    check_equal(last(unit, s, "CapabilityBoundingSet"), "", "%s: CapabilityBoundingSet" % name)
    check(not last(unit, s, "AmbientCapabilities"), "%s: AmbientCapabilities grants something" % name)
    families = set(" ".join(values(unit, s, "RestrictAddressFamilies")).split())
    check_equal(families, {"AF_INET", "AF_INET6", "AF_UNIX"}, "%s: RestrictAddressFamilies" % name)
    filters = values(unit, s, "SystemCallFilter")
    check(bool(filters) and filters[0].split()[0] == "@system-service",
          "%s: the first SystemCallFilter= must allow @system-service, got %r" % (name, filters))
    # Writable only where the journal lives.
    writable = " ".join(values(unit, s, "ReadWritePaths")).split()
    check(bool(writable), "%s: no ReadWritePaths" % name)
    for path in writable:
        check(path.lstrip("-") == STATE_DIR or path.lstrip("-").startswith(STATE_DIR + "/"),
              "%s: ReadWritePaths=%s is outside %s" % (name, path, STATE_DIR))
    for key in ("ReadWriteDirectories", "BindPaths"):
        check(not values(unit, s, key), "%s: unexpected %s" % (name, key))


def check_exec(name, unit, subcommand):
    execs = values(unit, "Service", "ExecStart")
    check_equal(len(execs), 1, "%s: ExecStart= lines" % name)
    argv = split_exec(execs[0])
    command, flags = check_command_line(BINARY, argv, name + " ExecStart")
    check_equal(command, subcommand, "%s: keyrotor subcommand" % name)
    check_equal(flags.get("--config"), CONFIG, "%s: --config" % name)
    return argv, flags


run_unit = parse_unit("keyrotor-run.service")
timer = parse_unit("keyrotor-run.timer")
daemon = parse_unit("keyrotor-daemon.service")

# keyrotor-run.service: a oneshot `keyrotor run`.
check_hardening("keyrotor-run.service", run_unit)
check_equal(last(run_unit, "Service", "Type"), "oneshot", "keyrotor-run.service: Type")
run_argv, _ = check_exec("keyrotor-run.service", run_unit, "run")
check(not values(run_unit, "Install", "WantedBy"), "keyrotor-run.service is started by its timer, not installed")

# keyrotor-run.timer: daily, catching up a missed run.
check_equal(last(timer, "Timer", "Unit") or "keyrotor-run.service", "keyrotor-run.service", "timer: Unit")
check_equal(last(timer, "Timer", "Persistent"), "true", "timer: Persistent")
check_equal(values(timer, "Install", "WantedBy"), ["timers.target"], "timer: WantedBy")
calendar = last(timer, "Timer", "OnCalendar")
check(calendar is not None, "timer: no OnCalendar")
if calendar and shutil.which("systemd-analyze"):
    # The next two elapses are 24 hours apart: a daily timer.
    out = subprocess.run(["systemd-analyze", "calendar", "--iterations=3", calendar], capture_output=True,
                         text=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    check(out.returncode == 0, "timer: systemd-analyze calendar %r: %s" % (calendar, out.stderr))
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", out.stdout)
    check_equal(len(stamps), 3, "timer: elapses listed by systemd-analyze calendar")
    times = [datetime.datetime.strptime(t, "%Y-%m-%d %H:%M:%S") for t in stamps]
    check(all(b - a == datetime.timedelta(days=1) for a, b in zip(times, times[1:])),
          "timer: %r does not fire once a day: %s" % (calendar, stamps))

# keyrotor-daemon.service: long-running, reloads on SIGHUP, metrics on loopback.
check_hardening("keyrotor-daemon.service", daemon)
check(last(daemon, "Service", "Type") in ("simple", "exec"), "keyrotor-daemon.service: Type must be simple or exec")
daemon_argv, flags = check_exec("keyrotor-daemon.service", daemon, "daemon")
check_equal(flags.get("--metrics-listen"), "127.0.0.1:9464", "keyrotor-daemon.service: --metrics-listen")
check_equal(values(daemon, "Service", "ExecReload"), ["/bin/kill -HUP $MAINPID"], "keyrotor-daemon.service: ExecReload")
check_equal(last(daemon, "Service", "Restart"), "on-failure", "keyrotor-daemon.service: Restart")
check_equal(values(daemon, "Install", "WantedBy"), ["multi-user.target"], "keyrotor-daemon.service: WantedBy")

# The config the units read: accepted by the binary, journal inside StateDirectory=.
with open(os.path.join(UNIT_DIR, "keyrotor.toml")) as f:
    toml_text = f.read()
config = tomllib.loads(toml_text)
check_equal(config.get("state"), STATE_DIR + "/journal.db", "keyrotor.toml: state")
summary = config_check(BINARY, toml_text, "deploy/systemd/keyrotor.toml")
check(STATE_DIR + "/journal.db" in summary, "config check does not report the journal at %s:\n%s" % (STATE_DIR, summary))

# The units' command lines, run as written over that config (journal moved to a temp
# dir, AWS unreachable): the binary accepts them and gets as far as asking AWS. The
# daemon runs once (--once) and serves metrics on a free port instead of 9464.
check_runs_offline(BINARY, run_argv, toml_text, config["state"], "keyrotor-run.service ExecStart")
check_runs_offline(BINARY, daemon_argv + ["--once"], toml_text, config["state"], "keyrotor-daemon.service ExecStart",
                   replace={"127.0.0.1:9464": "127.0.0.1:0"})

# systemd's own parser, when this machine has it (systemd need not be PID 1):
# every directive known and every value valid.
if shutil.which("systemd-analyze"):
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("keyrotor-run.service", "keyrotor-run.timer", "keyrotor-daemon.service"):
            with open(os.path.join(UNIT_DIR, name)) as f:
                text = f.read().replace("/usr/local/bin/keyrotor", BINARY)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        units = [os.path.join(tmp, n) for n in ("keyrotor-run.service", "keyrotor-run.timer",
                                                "keyrotor-daemon.service")]
        out = subprocess.run(["systemd-analyze", "verify", "--man=no"] + units, capture_output=True, text=True)
        complaints = [l for l in (out.stdout + out.stderr).splitlines() if tmp in l or "keyrotor" in l]
        check(out.returncode == 0 and not complaints,
              "systemd-analyze verify (exit %d):\n%s" % (out.returncode, "\n".join(complaints) or out.stderr))
else:
    print("note: systemd-analyze not found; unit syntax checked by this script only")

finish("deploy.systemd")
