"""What the deploy tests share: the binary, checks that say what failed, and
running `keyrotor` the way the deployment files do.

Each test is run by ctest (tests/deploy/CMakeLists.txt) with Debian's python:
  /usr/bin/python3 -E -s -B tests/deploy/NAME_test.py BUILD/keyrotor [more]
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY_DIR = os.path.join(SOURCE_DIR, "deploy")

_failures = []
_checks = [0]


def fatal(message):
    print("FATAL: " + message, file=sys.stderr)
    sys.exit(2)


def check(condition, message):
    """Records a failed property and goes on, so one run names every problem."""
    _checks[0] += 1
    if not condition:
        _failures.append(message)
        print("FAIL: " + message, file=sys.stderr)
    return condition


def check_equal(actual, expected, what):
    return check(actual == expected, "%s: expected %r, got %r" % (what, expected, actual))


def finish(name):
    """Exit status for ctest: 1 when any check failed (or none ran: a test that asserts nothing is a defect)."""
    if _checks[0] == 0:
        fatal(name + ": no check ran")
    if _failures:
        print("%s: %d of %d checks failed" % (name, len(_failures), _checks[0]), file=sys.stderr)
        sys.exit(1)
    print("%s: %d checks passed" % (name, _checks[0]))
    sys.exit(0)


def binary_from_argv(argv):
    if len(argv) < 2:
        fatal("usage: %s BUILD/keyrotor" % argv[0])
    binary = os.path.abspath(argv[1])
    if not os.access(binary, os.X_OK):
        fatal(binary + " is not an executable keyrotor (build the keyrotor target)")
    return binary


def require_debian_module(name, package):
    """Imports `name` from Debian's dist-packages (scripts/install-deps installs `package`)."""
    try:
        module = __import__(name)
    except ImportError as error:
        fatal("cannot import %s under %s (%s): run scripts/install-deps (Debian package %s)"
              % (name, sys.executable, error, package))
    if not module.__file__.startswith("/usr/lib/python3/dist-packages/"):
        fatal("%s comes from %s, not Debian's /usr/lib/python3/dist-packages: run with /usr/bin/python3 -E -s"
              % (name, module.__file__))
    return module


def run(binary, args, env=None, timeout=60):
    """Runs keyrotor with an environment holding no AWS settings of the caller's."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KEYROTOR_"))}
    clean["HOME"] = tempfile.gettempdir()  # no ~/.aws of whoever runs the tests
    clean.update(env or {})
    return subprocess.run([binary] + list(args), capture_output=True, text=True, env=clean, timeout=timeout)


def help_flags(binary, command):
    """The long and short options `keyrotor COMMAND... --help` lists."""
    result = run(binary, list(command) + ["--help"])
    if result.returncode != 0:
        fatal("keyrotor %s --help exited %d: %s" % (" ".join(command), result.returncode, result.stderr))
    # Option lines start with two spaces and the names: "  -h,--help", "  --config TEXT REQUIRED".
    flags = set()
    for line in result.stdout.splitlines():
        match = re.match(r"^ {2}(-[\w-]+(?:,\s*-[\w-]+)*)", line)
        if match:
            flags.update(name.strip() for name in match.group(1).split(","))
    return flags


def help_subcommands(binary, command):
    """The subcommands `keyrotor COMMAND... --help` lists under "Subcommands:"."""
    result = run(binary, list(command) + ["--help"])
    names, in_section = [], False
    for line in result.stdout.splitlines():
        if line.strip() == "Subcommands:":
            in_section = True
        elif in_section and re.match(r"^  \S", line):
            names.append(line.split()[0])
        elif in_section and line and not line.startswith(" "):
            in_section = False
    return names


def check_command_line(binary, argv, where):
    """A keyrotor command line as a deployment file runs it: the program is keyrotor, the
    subcommand exists, and every flag is one that subcommand's --help lists.

    Returns (subcommand, {flag: value or True}) for the caller's own checks."""
    check(os.path.basename(argv[0]) == "keyrotor", "%s: runs %s, not keyrotor" % (where, argv[0]))
    check(os.path.isabs(argv[0]), "%s: %s is not an absolute path" % (where, argv[0]))
    command = [a for a in argv[1:2]]
    known = help_flags(binary, command)
    check("--config" in known, "%s: keyrotor %s has no --config" % (where, command))
    flags, i, args = {}, 0, argv[2:]
    value_flags = set()
    # An option takes a value when --help shows its type one space after the name
    # ("  --config TEXT REQUIRED"); the description starts after a run of spaces.
    text = run(binary, command + ["--help"]).stdout
    for match in re.finditer(r"^ {2}(?:-\w,)?(--[\w-]+) [A-Z]", text, flags=re.M):
        value_flags.add(match.group(1))
    while i < len(args):
        arg = args[i]
        check(arg.startswith("-"), "%s: unexpected argument %r" % (where, arg))
        name, _, inline = arg.partition("=")
        check(name in known, "%s: keyrotor %s --help does not list %s" % (where, command[0], name))
        if inline:
            flags[name] = inline
        elif name in value_flags:
            check(i + 1 < len(args), "%s: %s needs a value" % (where, name))
            flags[name] = args[i + 1] if i + 1 < len(args) else ""
            i += 1
        else:
            flags[name] = True
        i += 1
    return command[0], flags


def split_exec(line):
    """systemd's ExecStart= splitting is shell-like for the simple cases the units use."""
    line = line.lstrip("-@:+!")
    return shlex.split(line)


def config_check(binary, toml_text, where, env=None):
    """`keyrotor config check --config` on this text, from a temp file; returns its output."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "keyrotor.toml")
        with open(path, "w") as f:
            f.write(toml_text)
        result = run(binary, ["config", "check", "--config", path], env=env)
    check(result.returncode == 0, "%s: keyrotor config check exited %d:\n%s%s"
          % (where, result.returncode, result.stdout, result.stderr))
    return result.stdout


def free_loopback_port():
    """A loopback port nothing listens on (bound, then released)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_runs_offline(binary, argv, toml_text, state, where, replace=None):
    """Runs the deployment's own command line (program, config path and `replace`d
    arguments swapped for test ones) with static test credentials and an AWS endpoint
    that refuses connections. Accepted flags, a loadable config and an openable journal
    end in exit status 1 with a JSON summary naming the unreachable endpoint; a flag the
    binary refuses, or a bad config, would end in exit status 2 before any AWS call."""
    replace = dict(replace or {})
    with tempfile.TemporaryDirectory() as tmp:
        journal = os.path.join(tmp, "state", "journal.db")
        config = os.path.join(tmp, "keyrotor.toml")
        with open(config, "w") as f:
            f.write(toml_text.replace(state, journal) if state else toml_text)
        args = []
        for arg in argv[1:]:
            args.append(replace.get(arg, arg))
        config_index = args.index("--config") + 1 if "--config" in args else None
        if config_index is not None:
            args[config_index] = config
        endpoint = "http://127.0.0.1:%d" % free_loopback_port()
        env = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "test-secret-not-real",
               "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "AWS_MAX_ATTEMPTS": "1",
               "KEYROTOR_STATE": journal, "HOME": tmp}
        result = run(binary, args, env=env, timeout=60)
        check(result.returncode == 1, "%s: `keyrotor %s` exited %d (expected 1: no AWS reachable):\n%s%s"
              % (where, " ".join(args), result.returncode, result.stdout, result.stderr))
        summaries = [line for line in result.stdout.splitlines() if line.startswith('{"summary"')]
        check(len(summaries) == 1 and endpoint in summaries[0],
              "%s: no run summary naming %s:\n%s" % (where, endpoint, result.stdout))
        check(os.path.exists(journal) or not state, "%s: the journal was not opened at the config's state" % where)
