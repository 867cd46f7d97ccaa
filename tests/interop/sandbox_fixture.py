"""Shared fixture for the Python interop tests (stdlib only, runs under /usr/bin/python3).

Starts one `keyrotor sandbox` in a private temp dir, hands out an environment in
which a real AWS client sees nothing of this machine (no ~/.aws, no AWS_* from
the caller, no proxy), records every secret the test learns, and at the end
fails the test if any of those secrets showed up in the sandbox's stdout/stderr
or in what the test itself printed.

A test script looks like:

    fixture = InteropTest("awscli", sys.argv)
    @fixture.scenario("paginate 120 users")
    def _(): ...
    sys.exit(fixture.run())
"""

import atexit
import configparser
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

# A region other than us-east-1 on purpose: with a custom endpoint botocore
# signs IAM with the client's region (aws-wire.md §0), and the sandbox must
# accept that as the real clients send it.
REGION = "eu-west-1"
ACCOUNT = "123456789012"
READY_LINE = re.compile(r"keyrotor sandbox listening on (http://127\.0\.0\.1:\d+)")


class Tee(io.TextIOBase):
    """Forwards writes to a real stream and keeps a copy for the leak scan."""

    def __init__(self, stream, sink):
        self._stream = stream
        self._sink = sink

    def write(self, text):
        self._sink.append(text)
        self._stream.write(text)
        self._stream.flush()
        return len(text)

    def flush(self):
        self._stream.flush()


class Sandbox:
    """One `keyrotor sandbox` process and its temp dir."""

    def __init__(self, binary, workdir, extra_args=()):
        self.binary = binary
        self.workdir = workdir
        self.credentials_file = os.path.join(workdir, "sandbox-credentials")
        self.stdout_path = os.path.join(workdir, "sandbox.stdout")
        self.stderr_path = os.path.join(workdir, "sandbox.stderr")
        self.extra_args = list(extra_args)
        self.process = None
        self.url = None
        self.admin_key_id = None
        self.admin_secret = None

    def start(self, timeout=15.0):
        argv = [self.binary, "sandbox", "--listen", "127.0.0.1:0",
                "--write-credentials", self.credentials_file] + self.extra_args
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = READY_LINE.search(self.stdout())
            if match:
                self.url = match.group(1)
                break
            if self.process.poll() is not None:
                raise RuntimeError("sandbox exited with %s before it was ready; stderr:\n%s"
                                   % (self.process.returncode, self.stderr()))
            time.sleep(0.02)
        else:
            raise RuntimeError("sandbox did not print its listening line within %.0fs" % timeout)
        # The ready line comes after the credentials file is written, but wait
        # for the profile to be readable rather than rely on that ordering.
        while time.monotonic() < deadline:
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(self.credentials_file)
            if parser.has_option("default", "aws_secret_access_key"):
                self.admin_key_id = parser.get("default", "aws_access_key_id")
                self.admin_secret = parser.get("default", "aws_secret_access_key")
                mode = os.stat(self.credentials_file).st_mode & 0o777
                if mode != 0o600:
                    raise RuntimeError("credentials file mode is %o, want 600" % mode)
                return self
            time.sleep(0.02)
        raise RuntimeError("sandbox never wrote profile [default] to " + self.credentials_file)

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError("sandbox ignored SIGTERM for 10s and was killed")

    def stdout(self):
        return _read_text(self.stdout_path)

    def stderr(self):
        return _read_text(self.stderr_path)


def _read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


class InteropTest:
    """Runs named scenarios against one sandbox, then the secret-leak scan.

    Every scenario runs even when an earlier one failed, so one sandbox bug does
    not hide the others; the process exit code is 1 if anything failed.
    """

    def __init__(self, client_name, argv, sandbox_args=()):
        self.client_name = client_name
        self._printed = []
        sys.stdout = Tee(sys.__stdout__, self._printed)
        sys.stderr = Tee(sys.__stderr__, self._printed)
        binary = argv[1] if len(argv) > 1 else os.environ.get("KEYROTOR_BINARY", "")
        if not binary or not os.access(binary, os.X_OK):
            fatal("usage: %s KEYROTOR_BINARY (got %r: not an executable)" % (argv[0], binary))
        self.workdir = tempfile.mkdtemp(prefix="keyrotor-interop-%s-" % client_name)
        atexit.register(self._cleanup)  # also when a prerequisite check exits early
        self.home = os.path.join(self.workdir, "home")
        os.mkdir(self.home, 0o700)
        self.config_file = os.path.join(self.workdir, "config")
        with open(self.config_file, "w") as f:
            f.write("[default]\nregion = %s\noutput = json\n" % REGION)
        self.sandbox = Sandbox(os.path.abspath(binary), self.workdir, sandbox_args)
        self._scenarios = []
        self._secrets = {}  # secret value -> (where it came from, also scan our own output)
        self.failures = []

    # -- secrets ---------------------------------------------------------

    def remember_secret(self, value, origin, also_in_own_output=True):
        """Every secret the test learns; none may appear in the sandbox's output.

        Access keys must not appear in this test's own output either. Values the
        test made up itself (SecretString, SecureString) may show up in a failed
        assertion's message, so those are only looked for in the sandbox's."""
        if value:
            self._secrets.setdefault(value, (origin, also_in_own_output))

    # -- environment -----------------------------------------------------

    def client_env(self, **overrides):
        """A from-scratch environment for a client process: nothing of the caller's
        AWS setup (profiles, keys, endpoints, proxies, pyenv) leaks in."""
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": self.home,
            "AWS_CONFIG_FILE": self.config_file,
            "AWS_SHARED_CREDENTIALS_FILE": self.sandbox.credentials_file,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            # One attempt per call: the sandbox runs without fault injection
            # here, so a retry could only hide a wrong status code.
            "AWS_MAX_ATTEMPTS": "1",
            "NO_PROXY": "127.0.0.1",
        }
        env.update(overrides)
        return env

    def isolate_this_process(self):
        """For in-process clients (boto3, the CLI driver): same isolation as client_env()."""
        for name in list(os.environ):
            if name.startswith("AWS_") or name.lower().endswith("_proxy"):
                del os.environ[name]
        os.environ.update(self.client_env())

    # -- scenarios -------------------------------------------------------

    def scenario(self, name):
        def register(fn):
            self._scenarios.append((name, fn))
            return fn
        return register

    def run(self):
        started = time.monotonic()
        try:
            self.sandbox.start()
        except Exception as error:  # noqa: BLE001 - report and fail
            print("FAIL: could not start the sandbox: %s" % error)
            self.failures.append("sandbox start")
            self.sandbox.stop()
            return 1
        self.remember_secret(self.sandbox.admin_secret, "admin secret from the credentials file")
        print("%s interop against %s (workdir %s)" % (self.client_name, self.sandbox.url, self.workdir))
        try:
            for name, fn in self._scenarios:
                t0 = time.monotonic()
                try:
                    fn()
                    print("ok   %-55s %5.1fs" % (name, time.monotonic() - t0))
                except Exception:  # noqa: BLE001 - every scenario runs
                    self.failures.append(name)
                    print("FAIL %-55s %5.1fs" % (name, time.monotonic() - t0))
                    traceback.print_exc(file=sys.stdout)
        finally:
            try:
                self.sandbox.stop()
            except RuntimeError as error:
                self.failures.append("sandbox shutdown")
                print("FAIL sandbox shutdown: %s" % error)
        self._scan_for_leaks()
        print("%s: %d scenario(s), %d failed, %.1fs" % (
            self.client_name, len(self._scenarios), len(self.failures), time.monotonic() - started))
        if self.failures:
            print("failed: " + ", ".join(self.failures))
        return 1 if self.failures else 0

    def _scan_for_leaks(self):
        sources = {
            "sandbox stdout": self.sandbox.stdout(),
            "sandbox stderr": self.sandbox.stderr(),
            "this test's own output": "".join(self._printed),
        }
        leaks = [(origin, where) for secret, (origin, own_too) in self._secrets.items()
                 for where, text in sources.items()
                 if secret in text and (own_too or not where.startswith("this test"))]
        if leaks:
            self.failures.append("secret leak scan")
            for origin, where in leaks:
                # Name the secret by where it came from; never print it.
                print("FAIL secret leak: %s appears in %s" % (origin, where))
        else:
            print("ok   secret leak scan: %d secret(s) absent from sandbox stdout/stderr and test output"
                  % len(self._secrets))

    def _cleanup(self):
        self.sandbox.stop()
        if self.failures and os.environ.get("KEYROTOR_INTEROP_KEEP"):
            print("keeping " + self.workdir)
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


def fatal(message):
    """Missing prerequisites are failures, not skips: scripts/install-deps provides them."""
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def check_equal(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s: got %r, want %r" % (what, actual, expected))


def require_debian_module(name):
    """Imports `name` and insists it is Debian's (python3-boto3 / awscli), not a pip copy."""
    try:
        module = __import__(name)
    except ImportError as error:
        fatal("cannot import %s under %s (%s): run scripts/install-deps (Debian package %s)"
              % (name, sys.executable, error, "awscli" if name == "awscli" else "python3-" + name))
    if not module.__file__.startswith("/usr/lib/python3/dist-packages/"):
        fatal("%s comes from %s, not Debian's /usr/lib/python3/dist-packages: run the test with "
              "/usr/bin/python3 -E -s" % (name, module.__file__))
    return module
