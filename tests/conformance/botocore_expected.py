#!/usr/bin/python3
"""botocore's answer for one conformance case: the profile, region,
max_attempts and credential method it resolves (and the access key and
session token where they come without a network), as one JSON object.

Usage: /usr/bin/python3 botocore_expected.py CASE_TEMP_DIR

CASE_TEMP_DIR holds a copy of tests/conformance/cases/<case>/ in which "$DIR"
already stands for CASE_TEMP_DIR itself (conformance_test.cc copies it). The
files read there:
  env      KEY=VALUE lines added to the environment
  profile  the explicitly named profile (Session(profile=...)), optional

Run it with Debian's /usr/bin/python3, whose python3-boto3 package brings
botocore (scripts/install-deps installs it). botocore must never reach the
network: instance metadata is disabled, role credentials are deferred (only
their .method is read) and any socket connect raises.
"""
import json
import os
import socket
import sys


def case_environment(case_dir):
    # Only what the case sets, on top of a HOME and two file paths inside the
    # case: nothing from the caller's environment may leak into botocore.
    env = {
        "HOME": case_dir,
        "PATH": "/usr/bin:/bin",
        "AWS_CONFIG_FILE": os.path.join(case_dir, "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(case_dir, "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    path = os.path.join(case_dir, "env")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                key, _, value = line.partition("=")
                env[key] = value
    return env


def explicit_profile(case_dir):
    path = os.path.join(case_dir, "profile")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip()


def refuse_network(*args, **kwargs):
    raise OSError("conformance: botocore tried to open a network connection")


# Methods whose keys are static or produced locally; every other method is a
# deferred/refreshable provider whose keys would need STS or a metadata service.
LOCAL_METHODS = ("env", "shared-credentials-file", "config-file", "custom-process")


def main():
    case_dir = os.path.abspath(sys.argv[1])
    env = case_environment(case_dir)
    profile = explicit_profile(case_dir)
    os.environ.clear()
    os.environ.update(env)
    socket.socket.connect = refuse_network
    socket.create_connection = refuse_network

    import botocore.session

    answer = {"env": env, "explicit_profile": profile, "error": None, "error_message": None,
              "profile": None, "region": None, "max_attempts": None, "method": None, "access_key": None, "token": None}
    try:
        session = botocore.session.Session(profile=profile)
        # botocore reads the default profile when none is named.
        answer["profile"] = session.profile or "default"
        answer["region"] = session.get_config_variable("region")
        answer["max_attempts"] = session.get_config_variable("max_attempts")
        creds = session.get_credentials()
        if creds is not None:
            answer["method"] = creds.method
            if creds.method in LOCAL_METHODS:
                answer["access_key"] = creds.access_key
                answer["token"] = creds.token
    except Exception as e:  # the class name is the result being recorded
        answer["error"] = type(e).__name__
        answer["error_message"] = str(e)
    json.dump(answer, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
