#!/usr/bin/python3
"""The request bodies botocore sends for query-protocol operations (IAM, STS,
SNS), byte for byte, so keyrotor's form encoding can be compared with them.

Usage: /usr/bin/python3 -E -s -B botocore_query_body.py < cases.json

stdin: a JSON array of {"service": "iam", "operation": "CreateUser",
"params": {...}}, the params as a boto3 caller passes them. Each structure's
members are put in the service model's order first (what the AWS CLI sends,
and what a boto3 call naming its arguments in the documented order sends).
stdout: a JSON array with, per case, {"body": "..."} (the body as sent,
decoded as ASCII: it is percent-encoded) or {"error": "..."}.

botocore never reaches the network: a before-send handler records the
prepared request and stops it there. Run it with Debian's /usr/bin/python3,
whose python3-boto3 package brings botocore (scripts/install-deps).
"""
import json
import os
import sys


class Captured(Exception):
    def __init__(self, body):
        super().__init__("captured")
        self.body = body


def in_model_order(value, shape):
    """`value` with every structure's keys in the order of the model's members."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        out = {}
        for name, member in shape.members.items():
            if name in value:
                out[name] = in_model_order(value[name], member)
        for name in value:  # unknown keys: left for botocore's validator to name
            if name not in out:
                out[name] = value[name]
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [in_model_order(v, shape.member) for v in value]
    return value


def main():
    # Only what botocore needs: no credentials, config or endpoints from the caller.
    os.environ.clear()
    os.environ.update({"HOME": "/nonexistent", "AWS_CONFIG_FILE": "/dev/null",
                       "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"})
    import botocore
    import botocore.config
    import botocore.session

    if not botocore.__file__.startswith("/usr/lib/python3/dist-packages/"):
        sys.exit("botocore_query_body.py: botocore must be Debian's (python3-botocore), got " + botocore.__file__)

    cases = json.load(sys.stdin)
    session = botocore.session.get_session()
    clients = {}
    out = []
    for case in cases:
        service = case["service"]
        if service not in clients:
            client = session.create_client(
                service, region_name="us-east-1", endpoint_url="https://127.0.0.1:9",
                aws_access_key_id="AKIAEXAMPLEEXAMPLE00", aws_secret_access_key="example",
                config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))

            def capture(request, **kwargs):
                body = request.body
                if isinstance(body, bytes):
                    body = body.decode("ascii")
                raise Captured(body)

            client.meta.events.register("before-send", capture)
            clients[service] = client
        client = clients[service]
        operation = client.meta.service_model.operation_model(case["operation"])
        params = in_model_order(case["params"], operation.input_shape)
        method = getattr(client, botocore.xform_name(case["operation"]))
        try:
            method(**params)
            out.append({"error": "botocore sent nothing"})
        except Captured as c:
            out.append({"body": c.body})
        except Exception as e:  # a validation error: say which
            out.append({"error": type(e).__name__ + ": " + str(e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
