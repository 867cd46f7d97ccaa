"""The Keeper SaaS plugin (contrib/keeper/saas/) against the sandbox, with the
framework's documented classes stood in (kdnrm/ beside this file).

Run by tests/integration/keeper_saas_plugin_test.cc, which starts the sandbox
and writes KEYROTOR_SAAS_TEST_CONFIG: a 0600 JSON file with the endpoint, the
admin key, the IAM user to rotate, keyrotor's binary and a state path. The
key states are read back with Debian's boto3, the way an operator would look.
"""
import json
import os
import unittest

import boto3
from botocore.config import Config

from kdnrm.exceptions import SaasException
from kdnrm.log import Log
from kdnrm.saas_plugins import Record
from kdnrm.saas_type import AwsConfig, SaasUser, Secret

import keyrotor_aws_access_key as plugin_module

with open(os.environ["KEYROTOR_SAAS_TEST_CONFIG"]) as f:
    CONFIG = json.load(f)
SEEN_SECRETS = [CONFIG["admin_secret_access_key"], CONFIG["user_secret_access_key"]]


def client(service, key_id, secret):
    return boto3.client(service, endpoint_url=CONFIG["endpoint"], region_name="us-east-1",
                        aws_access_key_id=key_id, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def keys_of(user):
    iam = client("iam", CONFIG["admin_access_key_id"], CONFIG["admin_secret_access_key"])
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def config_record(**fields):
    base = {"keyrotor Path": CONFIG["keyrotor"], "keyrotor State": CONFIG["state"],
            "AWS Endpoint URL": CONFIG["endpoint"], "AWS Region": "us-east-1", "Timeout Seconds": "120"}
    base.update(fields)
    return Record("keyrotor SaaS configuration", {k: v for k, v in base.items() if v is not None})


def admin_fields():
    return {"AWS Access Key ID": CONFIG["admin_access_key_id"],
            "AWS Secret Access Key": CONFIG["admin_secret_access_key"]}


def make_plugin(record=None, provider_config=None, login=None):
    user = SaasUser(username=Secret(login or CONFIG["user"]), new_password=Secret("keeper-generated-password"))
    return plugin_module.SaasPlugin(user, record or config_record(**admin_fields()), provider_config)


def returned(plugin):
    return {f.label: f for f in plugin.return_fields}


class KeyrotorSaasPluginTest(unittest.TestCase):

    def assert_no_secret_leaked(self, *texts):
        for text in texts + tuple(Log.lines):
            for secret in SEEN_SECRETS:
                self.assertNotIn(secret, str(text))

    def test_schema_names_every_setting_once(self):
        schema = plugin_module.SaasPlugin.config_schema()
        ids = [item.id for item in schema]
        self.assertEqual(len(ids), len(set(ids)))
        secret_items = [item.id for item in schema if item.type == "secret"]
        self.assertEqual(secret_items, ["aws_secret_access_key"])

    def test_rotate_roll_back_and_rotate_again(self):
        user = CONFIG["user"]
        old = CONFIG["user_access_key_id"]
        self.assertEqual(keys_of(user), {old: "Active"})

        first = make_plugin()
        self.assertFalse(first.can_rollback)
        first.change_password()
        fields = returned(first)
        self.assertEqual(sorted(fields), ["aws_access_key_created", "aws_access_key_id",
                                          "aws_access_key_ids_removed", "aws_secret_access_key"])
        new_id = fields["aws_access_key_id"].value
        self.assertEqual(fields["aws_secret_access_key"].type, "secret")
        new_secret = Secret.get_value(fields["aws_secret_access_key"].value)
        SEEN_SECRETS.append(new_secret)
        self.assertRegex(fields["aws_access_key_created"].value, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(fields["aws_access_key_ids_removed"].value, "")
        # Verified with STS before Keeper saw it; the old key kept, inactive.
        self.assertEqual(client("sts", new_id, new_secret).get_caller_identity()["Arn"].split("/")[-1], user)
        self.assertEqual(keys_of(user), {old: "Inactive", new_id: "Active"})
        self.assertTrue(first.can_rollback)

        # Keeper's record update failed: the plugin is asked to roll back.
        first.rollback_password()
        self.assertEqual(keys_of(user), {old: "Active"})
        self.assertFalse(first.can_rollback)
        with self.assertRaises(SaasException):
            first.rollback_password()

        # Two rotations that Keeper kept: the second deletes the key the first kept.
        second = make_plugin()
        second.change_password()
        second_id = returned(second)["aws_access_key_id"].value
        SEEN_SECRETS.append(Secret.get_value(returned(second)["aws_secret_access_key"].value))
        third = make_plugin()
        third.change_password()
        third_fields = returned(third)
        third_id = third_fields["aws_access_key_id"].value
        SEEN_SECRETS.append(Secret.get_value(third_fields["aws_secret_access_key"].value))
        self.assertEqual(third_fields["aws_access_key_ids_removed"].value, old)
        self.assertEqual(keys_of(user), {second_id: "Inactive", third_id: "Active"})
        # The second's rollback is gone with its old key: refused, nothing changes.
        with self.assertRaises(SaasException) as refused:
            second.rollback_password()
        self.assertIn("no rotation in progress", str(refused.exception))
        self.assertEqual(keys_of(user), {second_id: "Inactive", third_id: "Active"})
        third.rollback_password()
        self.assertEqual(keys_of(user), {second_id: "Active"})
        self.assert_no_secret_leaked(str(refused.exception))

    def test_admin_credentials_from_the_pam_aws_configuration(self):
        user = CONFIG["other_user"]
        provider = AwsConfig(aws_access_key_id=Secret(CONFIG["admin_access_key_id"]),
                             aws_secret_access_key=Secret(CONFIG["admin_secret_access_key"]),
                             region_names=["us-east-1"])
        plugin = make_plugin(record=config_record(**{"IAM User": user}), provider_config=provider,
                             login="pam-login-not-the-iam-user")
        plugin.change_password()
        new_id = returned(plugin)["aws_access_key_id"].value
        SEEN_SECRETS.append(Secret.get_value(returned(plugin)["aws_secret_access_key"].value))
        self.assertEqual(keys_of(user)[new_id], "Active")
        self.assert_no_secret_leaked()

    def test_bad_settings_fail_before_keyrotor_runs(self):
        before = keys_of(CONFIG["user"])
        cases = [
            make_plugin(login="not a user name!"),
            make_plugin(record=config_record(**{"AWS Access Key ID": CONFIG["admin_access_key_id"]})),
            make_plugin(record=config_record(**admin_fields(), **{"keyrotor Path": "/nonexistent/keyrotor"})),
        ]
        for plugin in cases:
            with self.assertRaises(SaasException) as failed:
                plugin.change_password()
            self.assert_no_secret_leaked(str(failed.exception))
            self.assertFalse(plugin.can_rollback)
        with self.assertRaises(SaasException):
            make_plugin().rollback_password()
        self.assertEqual(keys_of(CONFIG["user"]), before)

    def test_keyrotor_refusal_is_reported_without_secrets(self):
        # A user that does not exist: keyrotor's message, not a stack of secrets.
        plugin = make_plugin(record=config_record(**admin_fields(), **{"IAM User": "no-such-user"}))
        with self.assertRaises(SaasException) as failed:
            plugin.change_password()
        self.assertIn("keyrotor failed", str(failed.exception))
        self.assert_no_secret_leaked(str(failed.exception))


if __name__ == "__main__":
    unittest.main()
