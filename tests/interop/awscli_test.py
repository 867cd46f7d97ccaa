"""Debian's AWS CLI (/usr/bin/aws, awscli 2.9.19 with its vendored botocore) against
`keyrotor sandbox`.

Run: /usr/bin/python3 -E -s tests/interop/awscli_test.py build/keyrotor
"""

import contextlib
import datetime
import io
import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import (ACCOUNT, REGION, InteropTest, check, check_equal, fatal,  # noqa: E402
                             require_debian_module)

AWS = "/usr/bin/aws"
BULK_USERS = 120
BULK_PATH = "/interop/bulk/"
ERROR_LINE = re.compile(r"An error occurred \(([^)]+)\) when calling the (\w+) operation")

fixture = InteropTest("awscli", sys.argv)
if not os.access(AWS, os.X_OK):
    fatal("%s is missing: run scripts/install-deps (Debian package awscli)" % AWS)
# Before importing awscli: it extends AWS_DATA_PATH from the environment at import.
fixture.isolate_this_process()
awscli = require_debian_module("awscli")


class CliError(Exception):
    pass


def run_aws(args, key=None):
    """One /usr/bin/aws process. key=(id, secret) overrides the sandbox's admin profile."""
    overrides = {}
    if key:
        overrides = {"AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1]}
    argv = [AWS, "--endpoint-url", fixture.sandbox.url, "--output", "json"] + list(args)
    return subprocess.run(argv, env=fixture.client_env(**overrides), capture_output=True, text=True,
                          timeout=60)


def aws(*args, key=None):
    """Runs a command that must succeed; returns its parsed JSON output (or None)."""
    done = run_aws(args, key)
    if done.returncode != 0:
        raise CliError("aws %s exited %d: %s" % (" ".join(args[:2]), done.returncode, done.stderr.strip()))
    return json.loads(done.stdout) if done.stdout.strip() else None


def aws_error(*args, key=None):
    """Runs a command that must fail with a service error; returns the error code.

    The CLI exits 254 for an error response from the service and prints
    `An error occurred (Code) when calling the Op operation: message`."""
    done = run_aws(args, key)
    check(done.returncode != 0, "aws %s succeeded, expected an error; output: %s" % (" ".join(args[:2]), done.stdout))
    match = ERROR_LINE.search(done.stderr)
    check(match is not None, "aws %s: no service error in stderr (exit %d): %s"
          % (" ".join(args[:2]), done.returncode, done.stderr.strip()))
    check_equal(done.returncode, 254, "exit status for a service error")
    return match.group(1)


def cli_in_process(commands):
    """Runs many CLI commands through Debian's awscli driver in this process.

    Each /usr/bin/aws start costs ~1.5s here (importing awscli and loading the
    models), so 120 create-user processes alone would take three minutes.
    /usr/bin/aws is only `awscli.clidriver.main()`; calling the same driver's
    main() per command keeps argument parsing, serialization, signing and output
    identical while paying the start-up once."""
    from awscli.clidriver import create_clidriver
    driver = create_clidriver()  # this process's environment is fixture.client_env()
    outputs = []
    for args in commands:
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            rc = driver.main(["--endpoint-url", fixture.sandbox.url, "--output", "json"] + list(args))
        check_equal(rc, 0, "exit status of in-process aws %s" % " ".join(args))
        outputs.append(json.loads(captured.getvalue()))
    return outputs


def user_arn(path, name):
    return "arn:aws:iam::%s:user%s%s" % (ACCOUNT, path, name)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


admin_user = []  # the sandbox's admin, the only user before the bulk ones


@fixture.scenario("versions and identity of the admin profile")
def _():
    print("  client: %s" % subprocess.run([AWS, "--version"], env=fixture.client_env(), capture_output=True,
                                           text=True).stdout.strip())
    me = aws("sts", "get-caller-identity")
    check_equal(me["Account"], ACCOUNT, "GetCallerIdentity Account")
    check(me["Arn"].startswith("arn:aws:iam::%s:user/" % ACCOUNT), "admin Arn is a user ARN: %r" % me["Arn"])
    admin_user.append(me["Arn"].rsplit("/", 1)[1])


bulk_names = ["interop-bulk-%03d" % i for i in range(BULK_USERS)]


@fixture.scenario("create %d users, list them through pagination" % BULK_USERS)
def _():
    created = cli_in_process([["iam", "create-user", "--user-name", name, "--path", BULK_PATH]
                              for name in bulk_names])
    for name, out in zip(bulk_names, created):
        check_equal(out["User"]["Arn"], user_arn(BULK_PATH, name), "CreateUser Arn")
        check_equal(out["User"]["Path"], BULK_PATH, "CreateUser Path")

    # The CLI follows Marker/IsTruncated by itself.
    everyone = aws("iam", "list-users")["Users"]
    names = [u["UserName"] for u in everyone]
    check_equal(len(names), len(set(names)), "duplicates in the auto-paginated list-users")
    check_equal(sorted(names), sorted(bulk_names + admin_user), "auto-paginated list-users (bulk users + admin)")

    # One raw page: IAM's default MaxItems is 100, so 120+ users must be truncated.
    page = aws("iam", "list-users", "--no-paginate")
    check_equal(len(page["Users"]), 100, "users in one ListUsers page without MaxItems")
    check_equal(page.get("IsTruncated"), True, "IsTruncated on the first page")
    check(page.get("Marker"), "first page carries a Marker")

    in_path = aws("iam", "list-users", "--path-prefix", BULK_PATH)["Users"]
    check_equal(sorted(u["UserName"] for u in in_path), sorted(bulk_names), "list-users --path-prefix")

    small_pages = aws("iam", "list-users", "--path-prefix", BULK_PATH, "--page-size", "7")["Users"]
    check_equal([u["UserName"] for u in small_pages], [u["UserName"] for u in in_path],
                "list-users --page-size 7 vs default pages")

    # --max-items hands out a NextToken; --starting-token resumes from it.
    collected, token, rounds = [], None, 0
    while True:
        args = ["iam", "list-users", "--path-prefix", BULK_PATH, "--max-items", "50"]
        if token:
            args += ["--starting-token", token]
        out = aws(*args)
        rounds += 1
        collected += [u["UserName"] for u in out["Users"]]
        token = out.get("NextToken")
        if not token:
            break
        check(rounds < 10, "--max-items pagination does not end")
    check_equal(rounds, 3, "max-items 50 rounds over %d users" % BULK_USERS)
    check_equal(collected, [u["UserName"] for u in in_path], "users collected with --max-items/--starting-token")


@fixture.scenario("access key lifecycle, new key works, LimitExceeded")
def _():
    path, name = "/interop/", "interop-cli-keys"
    user = aws("iam", "create-user", "--user-name", name, "--path", path)["User"]
    check_equal(user["Arn"], user_arn(path, name), "CreateUser Arn")

    created = aws("iam", "create-access-key", "--user-name", name)["AccessKey"]
    key = (created["AccessKeyId"], created["SecretAccessKey"])
    fixture.remember_secret(key[1], "SecretAccessKey of %s's first key" % name)
    check_equal(created["Status"], "Active", "new key Status")
    check(re.fullmatch(r"AKIA[A-Z2-7]{16}", key[0]), "AccessKeyId shape: %r" % key[0])
    check(re.fullmatch(r"[A-Za-z0-9+/]{40}", key[1]), "SecretAccessKey is 40 chars of [A-Za-z0-9+/]")

    never_used = aws("iam", "get-access-key-last-used", "--access-key-id", key[0])
    check_equal(never_used["UserName"], name, "GetAccessKeyLastUsed UserName")
    check_equal(never_used["AccessKeyLastUsed"].get("ServiceName"), "N/A", "ServiceName of a never-used key")
    check("LastUsedDate" not in never_used["AccessKeyLastUsed"], "never-used key has no LastUsedDate")

    listed = aws("iam", "list-access-keys", "--user-name", name)["AccessKeyMetadata"]
    check_equal([(k["AccessKeyId"], k["Status"]) for k in listed], [(key[0], "Active")], "list-access-keys")

    # The new key signs its own request: the CLI with only that key in its env.
    me = aws("sts", "get-caller-identity", key=key)
    check_equal(me["Arn"], user["Arn"], "GetCallerIdentity Arn with the new key")
    check_equal(me["UserId"], user["UserId"], "GetCallerIdentity UserId with the new key")
    check_equal(me["Account"], ACCOUNT, "GetCallerIdentity Account with the new key")

    used = aws("iam", "get-access-key-last-used", "--access-key-id", key[0])["AccessKeyLastUsed"]
    check_equal(used.get("ServiceName"), "sts", "ServiceName after an STS call")
    check_equal(used.get("Region"), REGION, "Region after an STS call")
    check("LastUsedDate" in used, "LastUsedDate after use")
    age = datetime.datetime.now(datetime.timezone.utc) - parse_time(used["LastUsedDate"])
    check(abs(age.total_seconds()) < 300, "LastUsedDate %s is not recent" % used["LastUsedDate"])

    aws("iam", "update-access-key", "--user-name", name, "--access-key-id", key[0], "--status", "Inactive")
    listed = aws("iam", "list-access-keys", "--user-name", name)["AccessKeyMetadata"]
    check_equal([(k["AccessKeyId"], k["Status"]) for k in listed], [(key[0], "Inactive")],
                "list-access-keys after update-access-key Inactive")

    aws("iam", "delete-access-key", "--user-name", name, "--access-key-id", key[0])
    check_equal(aws("iam", "list-access-keys", "--user-name", name)["AccessKeyMetadata"], [],
                "list-access-keys after delete")
    check_equal(aws_error("sts", "get-caller-identity", key=key), "InvalidClientTokenId",
                "error code for a deleted key (consistency 0)")

    for n in (1, 2):
        extra = aws("iam", "create-access-key", "--user-name", name)["AccessKey"]
        fixture.remember_secret(extra["SecretAccessKey"], "SecretAccessKey of %s's key #%d" % (name, n + 1))
    check_equal(aws_error("iam", "create-access-key", "--user-name", name), "LimitExceeded",
                "error code for a third access key")
    check_equal(len(aws("iam", "list-access-keys", "--user-name", name)["AccessKeyMetadata"]), 2,
                "keys after the refused third one")
    check_equal(aws_error("iam", "delete-access-key", "--user-name", name, "--access-key-id",
                          "AKIAAAAAAAAAAAAAAAAA"), "NoSuchEntity", "error code for deleting a missing key")


@fixture.scenario("Secrets Manager versions and staging labels")
def _():
    name = "interop/cli/db"
    v1_value, v2_value = "cli-secret-value-one", "cli-secret-value-two"
    fixture.remember_secret(v1_value, "SecretString v1", also_in_own_output=False)
    fixture.remember_secret(v2_value, "SecretString v2", also_in_own_output=False)
    created = aws("secretsmanager", "create-secret", "--name", name, "--secret-string", v1_value,
                  "--description", "interop")
    check_equal(created["Name"], name, "CreateSecret Name")
    check(re.fullmatch(r"arn:aws:secretsmanager:[a-z0-9-]+:%s:secret:%s-[A-Za-z0-9]{6}" % (ACCOUNT, name),
                       created["ARN"]), "CreateSecret ARN %r" % created["ARN"])
    # Regional ARNs carry the region the request was signed for (the sandbox once used its own).
    check_equal(created["ARN"].split(":")[3], REGION, "region in the secret's ARN")
    v1 = created["VersionId"]

    put = aws("secretsmanager", "put-secret-value", "--secret-id", name, "--secret-string", v2_value)
    v2 = put["VersionId"]
    check(v2 != v1, "put-secret-value made a new version")
    check_equal(put["VersionStages"], ["AWSCURRENT"], "PutSecretValue VersionStages")

    current = aws("secretsmanager", "get-secret-value", "--secret-id", name, "--version-stage", "AWSCURRENT")
    check_equal((current["VersionId"], current["SecretString"]), (v2, v2_value), "AWSCURRENT version")
    check("AWSCURRENT" in current["VersionStages"], "GetSecretValue VersionStages has AWSCURRENT")
    previous = aws("secretsmanager", "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS")
    check_equal((previous["VersionId"], previous["SecretString"]), (v1, v1_value), "AWSPREVIOUS version")
    default = aws("secretsmanager", "get-secret-value", "--secret-id", created["ARN"])
    check_equal(default["VersionId"], v2, "GetSecretValue by ARN without a stage returns AWSCURRENT")

    stages = aws("secretsmanager", "describe-secret", "--secret-id", name)["VersionIdsToStages"]
    check_equal(stages, {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}, "DescribeSecret VersionIdsToStages")

    # Roll back: AWSCURRENT to v1 must name the version it leaves; AWSPREVIOUS follows it.
    check_equal(aws_error("secretsmanager", "update-secret-version-stage", "--secret-id", name,
                          "--version-stage", "AWSCURRENT", "--move-to-version-id", v1),
                "InvalidParameterException", "moving AWSCURRENT without --remove-from-version-id")
    aws("secretsmanager", "update-secret-version-stage", "--secret-id", name, "--version-stage", "AWSCURRENT",
        "--move-to-version-id", v1, "--remove-from-version-id", v2)
    stages = aws("secretsmanager", "describe-secret", "--secret-id", name)["VersionIdsToStages"]
    check_equal(stages, {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}, "stages after moving AWSCURRENT back")
    current = aws("secretsmanager", "get-secret-value", "--secret-id", name, "--version-stage", "AWSCURRENT")
    check_equal(current["SecretString"], v1_value, "AWSCURRENT value after the move")

    check_equal(aws_error("secretsmanager", "get-secret-value", "--secret-id", "interop/cli/missing"),
                "ResourceNotFoundException", "error code for a missing secret")


@fixture.scenario("SSM SecureString and SNS publish")
def _():
    value = "cli-ssm-secure-value"
    fixture.remember_secret(value, "SSM SecureString value", also_in_own_output=False)
    put = aws("ssm", "put-parameter", "--name", "/interop/cli/param", "--type", "SecureString", "--value", value)
    check_equal(put["Version"], 1, "PutParameter Version")
    got = aws("ssm", "get-parameter", "--name", "/interop/cli/param", "--with-decryption")["Parameter"]
    check_equal((got["Type"], got["Value"]), ("SecureString", value), "GetParameter --with-decryption")
    sealed = aws("ssm", "get-parameter", "--name", "/interop/cli/param")["Parameter"]
    check(sealed["Value"] != value, "GetParameter without decryption returned the plaintext")
    check_equal(aws_error("ssm", "get-parameter", "--name", "/interop/cli/missing"), "ParameterNotFound",
                "error code for a missing parameter")

    topic = aws("sns", "create-topic", "--name", "interop-cli")["TopicArn"]
    check(re.fullmatch(r"arn:aws:sns:[a-z0-9-]+:%s:interop-cli" % ACCOUNT, topic), "CreateTopic TopicArn %r" % topic)
    check_equal(topic.split(":")[3], REGION, "region in the TopicArn")
    published = aws("sns", "publish", "--topic-arn", topic, "--subject", "rotated", "--message", "key rotated")
    check(published.get("MessageId"), "Publish returned a MessageId")


@fixture.scenario("signature checks: wrong secret, unknown key")
def _():
    key_id, secret = fixture.sandbox.admin_key_id, fixture.sandbox.admin_secret
    wrong = (key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    check_equal(aws_error("iam", "list-users", "--max-items", "1", key=wrong), "SignatureDoesNotMatch",
                "IAM with a wrong secret")
    check_equal(aws_error("sts", "get-caller-identity", key=wrong), "SignatureDoesNotMatch",
                "STS with a wrong secret")
    # JSON-protocol services name the same failures differently.
    check_equal(aws_error("secretsmanager", "get-secret-value", "--secret-id", "interop/cli/db", key=wrong),
                "InvalidSignatureException", "Secrets Manager with a wrong secret")

    unknown = ("AKIAZZZZZZZZZZZZZZZZ", secret)
    check_equal(aws_error("sts", "get-caller-identity", key=unknown), "InvalidClientTokenId", "STS, unknown key")
    check_equal(aws_error("iam", "get-user", key=unknown), "InvalidClientTokenId", "IAM, unknown key")
    check_equal(aws_error("secretsmanager", "get-secret-value", "--secret-id", "interop/cli/db", key=unknown),
                "UnrecognizedClientException", "Secrets Manager, unknown key")


sys.exit(fixture.run())
