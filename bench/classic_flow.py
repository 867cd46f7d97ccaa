"""The classic per-user key rotation, as the baseline of bench/fleet_bench.cc.

What teams write before they have a tool: for each user, one after the other,
create a new access key, put it in Secrets Manager, publish to SNS that it
changed. No verification, no journal, no retirement of the old key.

Run with Debian's python and boto3 (python3-boto3), as tests/interop does:

    /usr/bin/python3 -E -s -B bench/classic_flow.py --endpoint-url URL \
        --topic-arn ARN --prefix svc- --users 1000

Credentials and region come from the environment only (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION); nothing here prints a secret. The last
line of output is one JSON object: {"client", "users", "rotated", "failed",
"loop_seconds"}.
"""

import argparse
import json
import sys
import time

import boto3
import botocore
from botocore.config import Config


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--topic-arn", required=True)
    parser.add_argument("--prefix", default="svc-")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--account", default="123456789012")
    args = parser.parse_args()

    # botocore's defaults (legacy retry mode), one client per service, reused
    # across users: keep-alive connections, as a real script would have.
    config = Config(connect_timeout=5, read_timeout=60)
    session = boto3.session.Session()
    iam = session.client("iam", endpoint_url=args.endpoint_url, config=config)
    sm = session.client("secretsmanager", endpoint_url=args.endpoint_url, config=config)
    sns = session.client("sns", endpoint_url=args.endpoint_url, config=config)

    rotated = failed = 0
    start = time.monotonic()
    for i in range(args.users):
        user = "%s%04d" % (args.prefix, i)
        try:
            key = iam.create_access_key(UserName=user)["AccessKey"]
            value = json.dumps({"AccessKey": key["AccessKeyId"], "SecretKey": key["SecretAccessKey"]})
            del key["SecretAccessKey"]
            sm.create_secret(Name="Account_%s_User_%s_AccessKey" % (args.account, user), SecretString=value)
            del value
            sns.publish(TopicArn=args.topic_arn, Subject="access key rotated",
                        Message=json.dumps({"event": "key_created", "user": user,
                                            "new_access_key_id": key["AccessKeyId"]}))
            rotated += 1
        except botocore.exceptions.ClientError as e:
            # The error's code and message only: botocore never puts a
            # request's parameters in them.
            failed += 1
            print("%s: %s" % (user, e.response.get("Error", {}).get("Code", "error")), file=sys.stderr)
    loop_seconds = time.monotonic() - start
    print(json.dumps({"client": "boto3 %s, botocore %s (%s)" % (boto3.__version__, botocore.__version__,
                                                                 boto3.__file__),
                      "users": args.users, "rotated": rotated, "failed": failed,
                      "loop_seconds": loop_seconds}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
