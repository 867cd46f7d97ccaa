"""Debian's boto3 (python3-boto3 1.26 / botocore 1.29) against `keyrotor sandbox`.

Run: /usr/bin/python3 -E -s tests/interop/boto3_test.py build/keyrotor
"""

import datetime
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sandbox_fixture import (ACCOUNT, REGION, InteropTest, check, check_equal,  # noqa: E402
                             require_debian_module)

BULK_USERS = 120
BULK_PATH = "/interop/bulk/"

# Three member accounts: the Organizations scenario below (keyrotor sandbox --accounts).
fixture = InteropTest("boto3", sys.argv, sandbox_args=("--accounts", "3"))
fixture.isolate_this_process()  # before boto3 reads any AWS_* variable
boto3 = require_debian_module("boto3")
botocore = require_debian_module("botocore")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

# One attempt: a retry could only hide a wrong status code from the sandbox.
CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


def client(service, key=None):
    """A client on the sandbox; key=(id, secret) instead of the admin profile."""
    if key:
        session = boto3.session.Session(aws_access_key_id=key[0], aws_secret_access_key=key[1],
                                        region_name=REGION)
    else:
        session = boto3.session.Session()  # profile [default] of the sandbox's credentials file
    return session.client(service, endpoint_url=fixture.sandbox.url, config=CONFIG)


def expect_error(call, code, status=None):
    """Runs call(); it must raise ClientError with this code (and HTTP status)."""
    try:
        result = call()
    except ClientError as error:
        check_equal(error.response["Error"]["Code"], code, "error code")
        if status is not None:
            check_equal(error.response["ResponseMetadata"]["HTTPStatusCode"], status, "HTTP status for " + code)
        return error
    raise AssertionError("expected %s, the call succeeded: %r" % (code, result))


def user_arn(path, name):
    return "arn:aws:iam::%s:user%s%s" % (ACCOUNT, path, name)


iam = None
admin_user = []  # the sandbox's admin, the only user before the bulk ones


@fixture.scenario("versions and identity of the admin profile")
def _():
    global iam
    print("  client: boto3 %s, botocore %s (%s)" % (boto3.__version__, botocore.__version__, boto3.__file__))
    iam = client("iam")
    me = client("sts").get_caller_identity()
    check_equal(me["Account"], ACCOUNT, "GetCallerIdentity Account")
    check(me["Arn"].startswith("arn:aws:iam::%s:user/" % ACCOUNT), "admin Arn is a user ARN: %r" % me["Arn"])
    admin_user.append(me["Arn"].rsplit("/", 1)[1])
    check_equal(me["ResponseMetadata"]["HTTPStatusCode"], 200, "HTTP status")


bulk_names = ["interop-bulk-%03d" % i for i in range(BULK_USERS)]


@fixture.scenario("create %d users, list them through pagination" % BULK_USERS)
def _():
    for name in bulk_names:
        user = iam.create_user(UserName=name, Path=BULK_PATH)["User"]
        check_equal(user["Arn"], user_arn(BULK_PATH, name), "CreateUser Arn")
    expect_error(lambda: iam.create_user(UserName=bulk_names[0].upper()), "EntityAlreadyExists", 409)

    paginator = iam.get_paginator("list_users")
    everyone = [u["UserName"] for page in paginator.paginate() for u in page["Users"]]
    check_equal(len(everyone), len(set(everyone)), "duplicates in the paginated list")
    check_equal(sorted(everyone), sorted(bulk_names + admin_user), "paginated ListUsers (bulk users + admin)")

    pages = list(paginator.paginate(PathPrefix=BULK_PATH))
    check_equal([len(p["Users"]) for p in pages], [100, 20], "page sizes with IAM's default MaxItems (100)")
    check_equal(sorted(u["UserName"] for p in pages for u in p["Users"]), sorted(bulk_names),
                "paginate(PathPrefix) users")
    in_order = [u["UserName"] for p in pages for u in p["Users"]]

    pages = list(paginator.paginate(PathPrefix=BULK_PATH, PaginationConfig={"PageSize": 7}))
    check_equal(len(pages), 18, "pages of 7 over %d users" % BULK_USERS)
    check_equal([u["UserName"] for p in pages for u in p["Users"]], in_order, "users in pages of 7")
    check("Marker" not in pages[-1] and not pages[-1]["IsTruncated"], "last page is not truncated")

    # MaxItems + StartingToken: the paginator's own resume token over IAM's Marker.
    first = paginator.paginate(PathPrefix=BULK_PATH, PaginationConfig={"MaxItems": 50}).build_full_result()
    check_equal(len(first["Users"]), 50, "MaxItems 50")
    rest = paginator.paginate(PathPrefix=BULK_PATH,
                              PaginationConfig={"StartingToken": first["NextToken"]}).build_full_result()
    check_equal([u["UserName"] for u in first["Users"] + rest["Users"]], in_order, "MaxItems + StartingToken")

    # The raw operation: Marker/IsTruncated by hand.
    raw = iam.list_users(PathPrefix=BULK_PATH, MaxItems=119)
    check(raw["IsTruncated"] and raw["Marker"], "MaxItems 119 of 120 is truncated with a Marker")
    tail = iam.list_users(PathPrefix=BULK_PATH, Marker=raw["Marker"])
    check_equal([u["UserName"] for u in tail["Users"]], in_order[119:], "page after the Marker")
    check_equal(tail["IsTruncated"], False, "IsTruncated on the last page")


@fixture.scenario("access key lifecycle, new key works, LimitExceeded")
def _():
    path, name = "/interop/", "interop-boto3-keys"
    user = iam.create_user(UserName=name, Path=path)["User"]
    created = iam.create_access_key(UserName=name)["AccessKey"]
    key = (created["AccessKeyId"], created["SecretAccessKey"])
    fixture.remember_secret(key[1], "SecretAccessKey of %s's first key" % name)
    check_equal(created["Status"], "Active", "new key Status")
    check(re.fullmatch(r"AKIA[A-Z2-7]{16}", key[0]), "AccessKeyId shape: %r" % key[0])
    check(isinstance(created["CreateDate"], datetime.datetime), "CreateDate parses as a timestamp")

    never = iam.get_access_key_last_used(AccessKeyId=key[0])
    check_equal(never["UserName"], name, "GetAccessKeyLastUsed UserName")
    check_equal(never["AccessKeyLastUsed"]["ServiceName"], "N/A", "ServiceName of a never-used key")
    check("LastUsedDate" not in never["AccessKeyLastUsed"], "never-used key has no LastUsedDate")

    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    check_equal([(k["AccessKeyId"], k["Status"]) for k in listed], [(key[0], "Active")], "ListAccessKeys")

    me = client("sts", key).get_caller_identity()
    check_equal((me["Arn"], me["UserId"]), (user["Arn"], user["UserId"]), "GetCallerIdentity with the new key")

    used = iam.get_access_key_last_used(AccessKeyId=key[0])["AccessKeyLastUsed"]
    check_equal((used["ServiceName"], used["Region"]), ("sts", REGION), "ServiceName/Region after an STS call")
    age = datetime.datetime.now(datetime.timezone.utc) - used["LastUsedDate"]
    check(abs(age.total_seconds()) < 300, "LastUsedDate %s is not recent" % used["LastUsedDate"])

    # A CreateUser-made user manages its own keys but nothing else.
    own = client("iam", key)
    check_equal([k["AccessKeyId"] for k in own.list_access_keys()["AccessKeyMetadata"]], [key[0]],
                "the user lists its own keys (UserName omitted = caller)")
    expect_error(lambda: own.list_users(), "AccessDenied", 403)

    iam.update_access_key(UserName=name, AccessKeyId=key[0], Status="Inactive")
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    check_equal([(k["AccessKeyId"], k["Status"]) for k in listed], [(key[0], "Inactive")],
                "ListAccessKeys after UpdateAccessKey Inactive")
    iam.delete_access_key(UserName=name, AccessKeyId=key[0])
    check_equal(iam.list_access_keys(UserName=name)["AccessKeyMetadata"], [], "ListAccessKeys after delete")
    expect_error(lambda: client("sts", key).get_caller_identity(), "InvalidClientTokenId", 403)

    for n in (2, 3):
        extra = iam.create_access_key(UserName=name)["AccessKey"]
        fixture.remember_secret(extra["SecretAccessKey"], "SecretAccessKey of %s's key #%d" % (name, n))
    error = expect_error(lambda: iam.create_access_key(UserName=name), "LimitExceeded", 409)
    check("AccessKeysPerUser" in error.response["Error"]["Message"], "LimitExceeded message names the quota")
    expect_error(lambda: iam.delete_access_key(UserName=name, AccessKeyId="AKIAAAAAAAAAAAAAAAAA"),
                 "NoSuchEntity", 404)
    expect_error(lambda: iam.list_access_keys(UserName="interop-nobody"), "NoSuchEntity", 404)


@fixture.scenario("Secrets Manager versions and staging labels")
def _():
    sm = client("secretsmanager")
    name = "interop/boto3/db"
    values = {"v1": '{"password":"boto3-one"}', "v2": '{"password":"boto3-two"}', "v3": '{"password":"boto3-three"}'}
    for label, value in values.items():
        fixture.remember_secret(value, "SecretString " + label, also_in_own_output=False)
    v1, v2, v3 = ("11111111-1111-4111-8111-%012d" % n for n in (1, 2, 3))

    created = sm.create_secret(Name=name, SecretString=values["v1"], ClientRequestToken=v1)
    check_equal((created["Name"], created["VersionId"]), (name, v1), "CreateSecret Name/VersionId")
    check(re.fullmatch(r"arn:aws:secretsmanager:[a-z0-9-]+:%s:secret:%s-[A-Za-z0-9]{6}" % (ACCOUNT, name),
                       created["ARN"]), "CreateSecret ARN %r" % created["ARN"])
    # Regional ARNs carry the region the request was signed for (the sandbox once used its own).
    check_equal(created["ARN"].split(":")[3], REGION, "region in the secret's ARN")

    put = sm.put_secret_value(SecretId=name, SecretString=values["v2"], ClientRequestToken=v2)
    check_equal((put["VersionId"], put["VersionStages"]), (v2, ["AWSCURRENT"]), "PutSecretValue")
    # Versions are immutable: the same token again is a no-op with the same data, an error with other data.
    sm.put_secret_value(SecretId=name, SecretString=values["v2"], ClientRequestToken=v2)
    expect_error(lambda: sm.put_secret_value(SecretId=name, SecretString=values["v3"], ClientRequestToken=v2),
                 "ResourceExistsException")

    def value_at(stage):
        got = sm.get_secret_value(SecretId=name, VersionStage=stage)
        check(stage in got["VersionStages"], "%s in the returned VersionStages" % stage)
        check(isinstance(got["CreatedDate"], datetime.datetime), "CreatedDate parses as a timestamp")
        return got["VersionId"], got["SecretString"]

    check_equal(value_at("AWSCURRENT"), (v2, values["v2"]), "AWSCURRENT")
    check_equal(value_at("AWSPREVIOUS"), (v1, values["v1"]), "AWSPREVIOUS")
    check_equal(sm.describe_secret(SecretId=name)["VersionIdsToStages"], {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]},
                "DescribeSecret after PutSecretValue")

    # Rotation-style: stage v3 as AWSPENDING, promote it, drop AWSPENDING.
    pending = sm.put_secret_value(SecretId=name, SecretString=values["v3"], ClientRequestToken=v3,
                                  VersionStages=["AWSPENDING"])
    check_equal(pending["VersionStages"], ["AWSPENDING"], "PutSecretValue with VersionStages")
    check_equal(value_at("AWSPENDING"), (v3, values["v3"]), "AWSPENDING")
    expect_error(lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v3),
                 "InvalidParameterException")
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v3,
                                   RemoveFromVersionId=v2)
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=v3)
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    check_equal({k: sorted(v) for k, v in stages.items()}, {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]},
                "DescribeSecret after promoting AWSPENDING (v1 has no label left and is not listed)")
    check_equal(sm.get_secret_value(SecretId=name)["VersionId"], v3, "GetSecretValue without a stage")

    expect_error(lambda: sm.get_secret_value(SecretId="interop/boto3/missing"), "ResourceNotFoundException")
    expect_error(lambda: sm.describe_secret(SecretId="interop/boto3/missing"), "ResourceNotFoundException")


@fixture.scenario("SSM SecureString and SNS publish")
def _():
    ssm = client("ssm")
    value = "boto3-ssm-secure-value"
    fixture.remember_secret(value, "SSM SecureString value", also_in_own_output=False)
    check_equal(ssm.put_parameter(Name="/interop/boto3/p", Type="SecureString", Value=value)["Version"], 1,
                "PutParameter Version")
    got = ssm.get_parameter(Name="/interop/boto3/p", WithDecryption=True)["Parameter"]
    check_equal((got["Type"], got["Value"], got["Version"]), ("SecureString", value, 1), "GetParameter decrypted")
    check(isinstance(got["LastModifiedDate"], datetime.datetime), "LastModifiedDate parses as a timestamp")
    check(ssm.get_parameter(Name="/interop/boto3/p")["Parameter"]["Value"] != value,
          "GetParameter without decryption returned the plaintext")
    expect_error(lambda: ssm.put_parameter(Name="/interop/boto3/p", Type="SecureString", Value=value),
                 "ParameterAlreadyExists")
    expect_error(lambda: ssm.get_parameter(Name="/interop/boto3/missing"), "ParameterNotFound")

    sns = client("sns")
    topic = sns.create_topic(Name="interop-boto3")["TopicArn"]
    check(re.fullmatch(r"arn:aws:sns:[a-z0-9-]+:%s:interop-boto3" % ACCOUNT, topic), "TopicArn %r" % topic)
    check_equal(topic.split(":")[3], REGION, "region in the TopicArn")
    check(sns.publish(TopicArn=topic, Subject="rotated", Message="key rotated")["MessageId"], "Publish MessageId")


def tampered(service, event, mutate):
    """A client whose requests `mutate(request)` alters after signing, just before sending.

    botocore emits before-send after the signer ran (botocore/endpoint.py
    _send -> before-send), so anything changed here is no longer covered by
    the Authorization header the client computed."""
    c = client(service)

    def handler(request, **_):
        mutate(request)
        return None  # None: let botocore send the (altered) request

    c.meta.events.register("before-send.%s.%s" % (c.meta.service_model.endpoint_prefix, event), handler)
    return c


def replace_body(old, new):
    def mutate(request):
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        check(old in body, "%r in the signed body %r" % (old, body))
        check_equal(len(old), len(new), "tamper keeps Content-Length")
        request.body = body.replace(old, new).encode()
    return mutate


def set_header(name, value):
    def mutate(request):
        # botocore's HTTPHeaders appends on assignment; replace instead.
        if name in request.headers:
            del request.headers[name]
        request.headers[name] = value
    return mutate


@fixture.scenario("signature checks: wrong secret, tampered requests, unknown key")
def _():
    key_id, secret = fixture.sandbox.admin_key_id, fixture.sandbox.admin_secret
    wrong = (key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    expect_error(lambda: client("iam", wrong).list_users(MaxItems=1), "SignatureDoesNotMatch", 403)
    expect_error(lambda: client("sts", wrong).get_caller_identity(), "SignatureDoesNotMatch", 403)
    expect_error(lambda: client("secretsmanager", wrong).get_secret_value(SecretId="interop/boto3/db"),
                 "InvalidSignatureException", 400)

    # Control: a header outside SignedHeaders may be added after signing.
    tampered("iam", "ListUsers", set_header("X-Interop-Unsigned", "1")).list_users(MaxItems=1)

    # Query body changed after signing: the payload hash no longer matches.
    expect_error(lambda: tampered("iam", "ListUsers", replace_body("MaxItems=1", "MaxItems=2")).list_users(MaxItems=1),
                 "SignatureDoesNotMatch", 403)
    expect_error(lambda: tampered("iam", "CreateAccessKey", replace_body("interop-boto3-keys", "interop-bulk-00001"))
                 .create_access_key(UserName="interop-boto3-keys"), "SignatureDoesNotMatch", 403)
    # A signed header changed after signing.
    expect_error(lambda: tampered("sts", "GetCallerIdentity", set_header("X-Amz-Date", _shifted_amz_date()))
                 .get_caller_identity(), "SignatureDoesNotMatch", 403)
    # JSON protocol: the operation itself (X-Amz-Target) swapped after signing must not run.
    # (The target is one the sandbox implements: it answers an unknown operation
    # with UnknownOperationException before it looks at the signature.)
    before = client("secretsmanager").describe_secret(SecretId="interop/boto3/db")["VersionIdsToStages"]
    sm = tampered("secretsmanager", "GetSecretValue",
                  set_header("X-Amz-Target", "secretsmanager.UpdateSecretVersionStage"))
    expect_error(lambda: sm.get_secret_value(SecretId="interop/boto3/db", VersionStage="AWSPREVIOUS"),
                 "InvalidSignatureException", 400)
    check_equal(client("secretsmanager").describe_secret(SecretId="interop/boto3/db")["VersionIdsToStages"], before,
                "stages after a request whose X-Amz-Target was swapped")
    expect_error(lambda: tampered("secretsmanager", "GetSecretValue",
                                  replace_body("interop/boto3/db", "interop/boto3/xx"))
                 .get_secret_value(SecretId="interop/boto3/db"), "InvalidSignatureException", 400)

    unknown = ("AKIAZZZZZZZZZZZZZZZZ", secret)
    expect_error(lambda: client("sts", unknown).get_caller_identity(), "InvalidClientTokenId", 403)
    expect_error(lambda: client("iam", unknown).get_user(), "InvalidClientTokenId", 403)
    expect_error(lambda: client("secretsmanager", unknown).get_secret_value(SecretId="interop/boto3/db"),
                 "UnrecognizedClientException", 400)


@fixture.scenario("Organizations, AssumeRole into a member account, credential report, authorization details")
def _():
    # What keyrotor's discovery and bulk planning call, through boto3's own
    # paginators and parsers (the CSV arrives as bytes: botocore decodes the
    # base64 blob).
    org = client("organizations")
    pages = list(org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 2}))
    ids = [a["Id"] for p in pages for a in p["Accounts"]]
    check_equal(len(ids), 4, "accounts (management and three members) over pages")
    check_equal(len(pages), 2, "ListAccounts pages of 2")
    check_equal(ids[0], ACCOUNT, "the management account first")
    # Debian's botocore 1.29 predates the State member; it reads the (now deprecated) Status.
    check_equal(pages[0]["Accounts"][1]["Status"], "ACTIVE", "Status")
    check_equal(org.describe_organization()["Organization"]["MasterAccountId"], ACCOUNT, "MasterAccountId")
    root = org.list_roots()["Roots"][0]["Id"]
    ous = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    check_equal(sorted(o["Name"] for o in ous), ["Sandbox", "Workloads"], "OUs under the root")
    expect_error(lambda: org.list_accounts_for_parent(ParentId="ou-zzzz-zzzzzzzz"), "ParentNotFoundException", 400)

    member = ids[1]
    role = "arn:aws:iam::%s:role/OrganizationAccountAccessRole" % member
    creds = client("sts").assume_role(RoleArn=role, RoleSessionName="interop")["Credentials"]
    fixture.remember_secret(creds["SecretAccessKey"], "the member role session's SecretAccessKey")
    fixture.remember_secret(creds["SessionToken"], "the member role session's SessionToken")
    session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                    aws_secret_access_key=creds["SecretAccessKey"],
                                    aws_session_token=creds["SessionToken"], region_name=REGION)
    member_sts = session.client("sts", endpoint_url=fixture.sandbox.url, config=CONFIG)
    check_equal(member_sts.get_caller_identity()["Account"], member, "the session acts in the member account")
    member_iam = session.client("iam", endpoint_url=fixture.sandbox.url, config=CONFIG)
    member_iam.create_user(UserName="member-only")
    check_equal([u["UserName"] for u in member_iam.list_users()["Users"]], ["member-only"], "the member's own IAM")
    expect_error(lambda: client("sts").assume_role(RoleArn="arn:aws:iam::%s:role/NoSuchRole" % member,
                                                   RoleSessionName="interop"), "AccessDenied", 403)
    expect_error(lambda: session.client("organizations", endpoint_url=fixture.sandbox.url, config=CONFIG)
                 .list_accounts(), "AccessDeniedException", 400)

    expect_error(lambda: iam.get_credential_report(), "ReportNotPresent", 410)
    check_equal(iam.generate_credential_report()["State"], "STARTED", "GenerateCredentialReport")
    check_equal(iam.generate_credential_report()["State"], "COMPLETE", "GenerateCredentialReport again")
    report = iam.get_credential_report()
    check_equal(report["ReportFormat"], "text/csv", "ReportFormat")
    lines = report["Content"].decode().split("\n")
    check(lines[0].startswith("user,arn,user_creation_time,"), "report header: %r" % lines[0][:40])
    check(lines[1].startswith("<root_account>,"), "the root row first")
    check(any(line.startswith("interop-bulk-000,") for line in lines), "a bulk user's row")

    users = []
    paginator = iam.get_paginator("get_account_authorization_details")
    for page in paginator.paginate(Filter=["User", "Group"], PaginationConfig={"PageSize": 50}):
        users += [u["UserName"] for u in page["UserDetailList"]]
        check(isinstance(page["GroupDetailList"], list), "GroupDetailList is a list")
    listed = [u["UserName"] for p in iam.get_paginator("list_users").paginate() for u in p["Users"]]
    check_equal(users, listed, "GetAccountAuthorizationDetails users, in ListUsers' order")


@fixture.scenario("the quarantine AWS puts on an exposed key, its Health event, CloudTrail LookupEvents")
def _():
    import json
    import urllib.request
    iam.create_user(UserName="interop-leaked")
    key = iam.create_access_key(UserName="interop-leaked")["AccessKey"]
    fixture.remember_secret(key["SecretAccessKey"], "the leaked user's SecretAccessKey")
    leaked = (key["AccessKeyId"], key["SecretAccessKey"])
    for _ in range(3):
        client("sts", leaked).get_caller_identity()
    # What AWS does on finding the key: the quarantine policy, and the Health event.
    request = urllib.request.Request("%s/keyrotor-sandbox/expose?access_key_id=%s" %
                                     (fixture.sandbox.url.rstrip("/"), key["AccessKeyId"]), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        event = json.loads(response.read())
    check_equal(event["source"], "aws.health", "Health event source")
    check_equal(event["detail"]["affectedEntities"][0]["entityValue"], key["AccessKeyId"], "the affected key")
    attached = iam.list_attached_user_policies(UserName="interop-leaked")["AttachedPolicies"]
    check_equal([p["PolicyName"] for p in attached], ["AWSCompromisedKeyQuarantineV3"], "attached policies")
    error = expect_error(lambda: client("iam", leaked).create_access_key(), "AccessDenied", 403)
    check("AWSCompromisedKeyQuarantineV3" in error.response["Error"]["Message"], "the denial names the policy")
    # The admin still may; a key of its own for the user works.
    check_equal(client("iam", leaked).list_access_keys()["AccessKeyMetadata"][0]["AccessKeyId"], key["AccessKeyId"],
                "reads the quarantine does not deny")
    # LookupEvents allows 2 requests a second: botocore's standard retry mode
    # waits out the ThrottlingException the sandbox answers beyond that.
    def trail_in(region):
        return boto3.session.Session(region_name=region).client(
            "cloudtrail", endpoint_url=fixture.sandbox.url,
            config=Config(retries={"total_max_attempts": 8, "mode": "standard"}))

    def lookup(region):
        return list(trail_in(region).get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key["AccessKeyId"]}],
            StartTime=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1),
            EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1),
            PaginationConfig={"PageSize": 2}))
    # STS's events are in the region the calls were made in...
    pages = lookup(REGION)
    events = [e for p in pages for e in p["Events"]]
    check_equal(len(pages), 2, "LookupEvents pages of 2 (botocore's paginator, NextToken)")
    check_equal([e["EventName"] for e in events], ["GetCallerIdentity"] * 3, "the key's STS calls in " + REGION)
    check(isinstance(events[0]["EventTime"], datetime.datetime), "EventTime parsed as a timestamp")
    check(events[0]["EventTime"] >= events[1]["EventTime"] >= events[2]["EventTime"], "newest first")
    # ...IAM's, a global service's, in us-east-1, as CloudTrail records them.
    events = [e for p in lookup("us-east-1") for e in p["Events"]]
    check_equal([e["EventName"] for e in events], ["ListAccessKeys", "CreateAccessKey"], "the key's IAM calls")
    refused = json.loads(events[1]["CloudTrailEvent"])
    check_equal(refused["errorCode"], "AccessDenied", "the refused call's errorCode")
    check_equal(refused["sourceIPAddress"], "127.0.0.1", "sourceIPAddress")
    check_equal(refused["awsRegion"], "us-east-1", "awsRegion of an IAM event")
    import time
    time.sleep(1.1)  # a fresh second's allowance for the single-attempt clients below
    expect_error(lambda: client("cloudtrail").lookup_events(MaxResults=51), "InvalidMaxResultsException", 400)
    expect_error(lambda: client("cloudtrail", leaked).lookup_events(), "AccessDeniedException", 400)


def _shifted_amz_date():
    # A minute later than now (one second later could be the very second
    # botocore then signs with): inside the 15-minute skew window, so only the
    # signature can reject it.
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=60)
    return later.strftime("%Y%m%dT%H%M%SZ")


sys.exit(fixture.run())
