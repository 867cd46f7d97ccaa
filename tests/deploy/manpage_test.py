"""The man pages: one per command the binary registers (nested ones too), each holding every
option its --help lists, an EXAMPLES section, and nothing groff warns about. They are rendered
by the hidden `keyrotor manpage` command; the ones the build made must be what it renders now.

Run: /usr/bin/python3 -E -s -B tests/deploy/manpage_test.py build/keyrotor build/man
"""

import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_common import (SOURCE_DIR, binary_from_argv, check, check_equal, fatal, finish,  # noqa: E402
                           help_flags, help_subcommands, run)

BINARY = binary_from_argv(sys.argv)
if len(sys.argv) < 3:
    fatal("usage: manpage_test.py BUILD/keyrotor BUILD/man")
MAN_DIR = sys.argv[2]
PROSE_DIR = os.path.join(SOURCE_DIR, "docs", "man")
GROFF = shutil.which("groff")
if not GROFF:
    fatal("groff not found: run scripts/install-deps (Debian package groff-base)")


def commands(path):
    """Every command path the binary's --help tree lists, from the top ([] is keyrotor itself)."""
    found = [path]
    for name in help_subcommands(BINARY, path):
        found += commands(path + [name])
    return found


def plain(roff):
    """The page's text with roff escapes for dashes and fonts undone."""
    text = roff.replace("\\-", "-").replace("\\e", "\\")
    return re.sub(r"\\f[BIRP]", "", text)


def sections(roff):
    """{title: body} of the page's .SH sections."""
    out, title = {}, None
    for line in roff.splitlines():
        if line.startswith(".SH "):
            title = line[4:].strip().strip('"')
            out[title] = ""
        elif title:
            out[title] += line + "\n"
    return out


all_commands = commands([])
check(len(all_commands) > 15, "only %d commands found in --help: %s" % (len(all_commands), all_commands))
for nested in (["config", "check"], ["vault", "get"], ["vault", "list"], ["profiles", "rotate"]):
    check(nested in all_commands, "keyrotor %s is not in the --help tree" % " ".join(nested))
check(["manpage"] not in all_commands, "the manpage command should be hidden from --help")

expected_pages = {"-".join(["keyrotor"] + c) + ".1" for c in all_commands}
present = {f for f in os.listdir(MAN_DIR) if f.endswith(".1")} if os.path.isdir(MAN_DIR) else set()
check_equal(present, expected_pages, "pages in " + MAN_DIR)

for command in all_commands:
    page = "-".join(["keyrotor"] + command) + ".1"
    path = os.path.join(MAN_DIR, page)
    if not os.path.exists(path):
        continue
    with open(path) as f:
        roff = f.read()
    text = plain(roff)
    found = sections(roff)
    for title in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES"):
        check(title in found, "%s: no %s section" % (page, title))
    check(len(re.sub(r"^\.\S+.*$", "", found.get("EXAMPLES", ""), flags=re.M).strip()) > 10,
          "%s: EXAMPLES is empty" % page)
    check(("keyrotor " + " ".join(command)).strip() in plain(found.get("SYNOPSIS", "")),
          "%s: SYNOPSIS does not show the command" % page)
    check(text.count("keyrotor " + " ".join(command)) >= 2 or not command,
          "%s: no example runs keyrotor %s" % (page, " ".join(command)))
    # Every option --help lists is in the page (the OPTIONS section, generated from the same definitions).
    for flag in help_flags(BINARY, command):
        check(flag in plain(found.get("OPTIONS", "")), "%s: option %s of --help is not in OPTIONS" % (page, flag))
    # Every subcommand --help lists is named in the page and has a page of its own (checked above).
    for sub in help_subcommands(BINARY, command):
        check("keyrotor-" + "-".join(command + [sub]) in text, "%s: does not refer to %s" % (page, sub))
    # groff (the man macros, every warning category) and, when present, mandoc's linter.
    lint = subprocess.run([GROFF, "-man", "-ww", "-z", path], capture_output=True, text=True)
    check(lint.returncode == 0 and not lint.stderr.strip(), "%s: groff -man -ww -z:\n%s" % (page, lint.stderr))
    if shutil.which("mandoc"):
        lint = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", path], capture_output=True, text=True)
        check(not lint.stdout.strip(), "%s: mandoc -T lint:\n%s" % (page, lint.stdout))

# A default shown by --help is in the page.
daemon = os.path.join(MAN_DIR, "keyrotor-daemon.1")
if os.path.exists(daemon):
    with open(daemon) as f:
        check("127.0.0.1:9464" in plain(f.read()), "keyrotor-daemon.1: the --metrics-listen default is missing")

# Rendered to text, the top page reads as a man page.
top = subprocess.run([GROFF, "-man", "-Tascii", "-P-cbou", os.path.join(MAN_DIR, "keyrotor.1")], capture_output=True,
                     text=True)
check("keyrotor - rotate AWS IAM user access keys" in top.stdout and "EXAMPLES" in top.stdout, "keyrotor.1 does not render:\n" + top.stdout[:500])

# The build's pages are what the binary renders now (no stale pages, deterministic output),
# and every prose file belongs to a command.
with tempfile.TemporaryDirectory() as tmp:
    made = run(BINARY, ["manpage", "--output-dir", tmp, "--prose-dir", PROSE_DIR])
    check(made.returncode == 0, "keyrotor manpage exited %d: %s" % (made.returncode, made.stderr))
    check("warning" not in made.stderr, "keyrotor manpage warned:\n" + made.stderr)
    fresh = sorted(os.listdir(tmp))
    check_equal(set(fresh), expected_pages, "pages keyrotor manpage writes")
    match, mismatch, errors = filecmp.cmpfiles(tmp, MAN_DIR, fresh, shallow=False)
    check(not mismatch and not errors, "pages in %s differ from a fresh rendering: %s (rebuild the man target)"
          % (MAN_DIR, mismatch + errors))
prose = {f[:-3] for f in os.listdir(PROSE_DIR) if f.endswith(".md")}
check_equal(prose, {"-".join(c) if c else "keyrotor" for c in all_commands}, "docs/man/*.md vs commands")

# Every keyrotor command line in the prose's examples names a real command and only its options.
help_cache = {}
for name in sorted(prose):
    with open(os.path.join(PROSE_DIR, name + ".md")) as f:
        literal = "\n".join(l[4:] for l in f.read().splitlines() if l.startswith("    "))
    for command_line in literal.replace("\\\n", " ").splitlines():
        words = command_line.split()
        while words and "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]  # VAR=value prefixes
        if not words or words[0] != "keyrotor":
            continue
        path = []
        while len(path) + 1 < len(words) and path + [words[len(path) + 1]] in all_commands:
            path.append(words[len(path) + 1])
        check(bool(path), "docs/man/%s.md: %r names no command" % (name, command_line))
        key = tuple(path)
        if key not in help_cache:
            help_cache[key] = help_flags(BINARY, path)
        for word in words[len(path) + 1:]:
            flag = word.split("=")[0]
            if re.match(r"^--?[A-Za-z]", flag):
                check(flag in help_cache[key], "docs/man/%s.md: keyrotor %s has no option %s (in %r)"
                      % (name, " ".join(path), flag, command_line))
check(len(help_cache) > 15, "only %d commands have examples" % len(help_cache))

# A malformed prose file is refused with its file and line.
with tempfile.TemporaryDirectory() as tmp:
    bad = os.path.join(tmp, "prose")
    shutil.copytree(PROSE_DIR, bad)
    with open(os.path.join(bad, "run.md"), "w") as f:
        f.write("## EXAMPLES\n\n    keyrotor run\n\n## exit status\n")
    made = run(BINARY, ["manpage", "--output-dir", os.path.join(tmp, "out"), "--prose-dir", bad])
    check_equal(made.returncode, 2, "keyrotor manpage exit status for a bad section title")
    check("run.md:5:" in made.stderr, "the error does not name run.md:5: " + made.stderr)

finish("deploy.manpages")
