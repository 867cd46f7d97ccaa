"""Keeper SaaS rotation plugin: rotates an IAM user's access key with keyrotor.

Keeper's gateway loads this file as a plugin of its SaaS rotation framework
(``kdnrm``; the classes used below are documented in README_class.md of
Keeper-Security/discovery-and-rotation-saas-dev). Unlike a plugin that calls
IAM itself, it hands the rotation to ``keyrotor keeper``, so the rotation gets
keyrotor's guarantees: a journal that survives a killed gateway, the new key
verified with STS before Keeper sees it, the engine's rules at the two-key
limit, and a rollback while the old key still exists.

What crosses between the plugin and keyrotor:
  - to keyrotor, on its stdin (a pipe): Keeper's post-rotation payload shape
    (base64 of a JSON object) naming the IAM user and, when configured, the
    admin credentials as an attached record's fields;
  - from keyrotor, on its stdout (a pipe): the new key's fields, and on
    stderr a summary without secrets.
No secret is ever on keyrotor's command line or in its environment.

See README.md beside this file for adding it in the Keeper vault.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from typing import Any, List, Optional, TYPE_CHECKING

from kdnrm.exceptions import SaasException
from kdnrm.log import Log
from kdnrm.saas_plugins import SaasPluginBase
from kdnrm.saas_type import ReturnCustomField, SaasConfigItem, Secret

if TYPE_CHECKING:  # pragma: no cover
    from kdnrm.saas_type import SaasUser
    from keeper_secrets_manager_core.dto.dtos import Record

# IAM's rule for user names (CreateUser: [\w+=,.@-]{1,128}).
_IAM_USER = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,128}$")
_KEY_ID = re.compile(r"^AKIA[A-Z0-9]{12,124}$")
# Credentials keyrotor would otherwise read from the gateway's environment:
# with credentials from the configuration record, keyrotor must not see them.
_AWS_CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def _text(value: Any) -> Optional[str]:
    """A config value as a stripped string (a Secret revealed), None when blank."""
    value = Secret.get_value(value)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    value = str(value).strip()
    return value or None


class SaasPlugin(SaasPluginBase):

    name = "keyrotor AWS Access Key"
    summary = "Rotate an IAM user's access key with keyrotor (journal, STS verification, rollback)."
    readme = "README.md"
    author = "keyrotor"
    email = "maintainers@keyrotor.invalid"

    def __init__(self, user: SaasUser, config_record: Record, provider_config: Optional[Any] = None,
                 force_fail: bool = False):
        super().__init__(user, config_record, provider_config, force_fail)
        self._new_key_id: Optional[str] = None
        self._kept_key_id: Optional[str] = None

    @classmethod
    def config_schema(cls) -> List[SaasConfigItem]:
        return [
            SaasConfigItem(id="iam_user", label="IAM User",
                           desc="The IAM user whose access key is rotated. Blank: the PAM User record's login.",
                           required=False),
            SaasConfigItem(id="aws_access_key_id", label="AWS Access Key ID",
                           desc="Admin access key id keyrotor signs IAM calls with. Blank: the PAM AWS "
                                "configuration's, else the gateway's default AWS credentials.",
                           required=False),
            SaasConfigItem(id="aws_secret_access_key", label="AWS Secret Access Key",
                           desc="The admin access key's secret.", type="secret", required=False),
            SaasConfigItem(id="aws_region", label="AWS Region",
                           desc="Region for STS. Blank: the PAM AWS configuration's first region, else us-east-1.",
                           required=False),
            SaasConfigItem(id="keyrotor_path", label="keyrotor Path", desc="The keyrotor binary on the gateway.",
                           default_value="/usr/bin/keyrotor", required=False),
            SaasConfigItem(id="state", label="keyrotor State",
                           desc="keyrotor's journal (SQLite). Blank: keyrotor's default for the gateway's user.",
                           required=False),
            SaasConfigItem(id="endpoint_url", label="AWS Endpoint URL",
                           desc="An IAM/STS endpoint other than AWS's (a VPC endpoint). Usually blank.",
                           type="url", required=False),
            SaasConfigItem(id="timeout", label="Timeout Seconds", desc="Stop waiting for keyrotor after this long.",
                           type="int", default_value=300, required=False),
        ]

    @property
    def can_rollback(self) -> bool:
        # keyrotor kept the old key (deactivated): it can be made current again.
        return self._new_key_id is not None and self._kept_key_id is not None

    # --- configuration -----------------------------------------------------

    def _iam_user(self) -> str:
        name = _text(self.get_config("iam_user")) or _text(self.user.username)
        if not name or not _IAM_USER.match(name):
            raise SaasException("The IAM user name is blank or not a valid IAM user name "
                                "(1-128 of letters, digits and +=,.@_-).")
        return name

    def _admin_record(self) -> Optional[dict]:
        """The admin credentials as an attached record's fields, or None for the default chain."""
        key_id = _text(self.get_config("aws_access_key_id"))
        secret = _text(self.get_config("aws_secret_access_key"))
        source = "the configuration record"
        if key_id is None and secret is None and self.provider_config is not None:
            key_id = _text(getattr(self.provider_config, "aws_access_key_id", None))
            secret = _text(getattr(self.provider_config, "aws_secret_access_key", None))
            source = "the PAM AWS configuration"
        if key_id is None and secret is None:
            return None
        if key_id is None or secret is None:
            raise SaasException(f"Only one of the AWS access key id and secret is set in {source}: set both, "
                                "or neither to use the gateway's default AWS credentials.")
        return {"uid": "keeper-saas-config", "title": source,
                "aws_access_key_id": key_id, "aws_secret_access_key": secret}

    def _region(self) -> str:
        region = _text(self.get_config("aws_region"))
        if region is None and self.provider_config is not None:
            regions = Secret.get_value(getattr(self.provider_config, "region_names", None)) or []
            region = _text(regions[0]) if regions else None
        return region or "us-east-1"

    # --- talking to keyrotor -----------------------------------------------

    def _run_keyrotor(self, args: List[str]) -> dict:
        """Runs `keyrotor keeper ARGS`; returns {"fields": {...} or None, "summary": {...}}."""
        admin = self._admin_record()
        payload = {"user": self._iam_user(), "userRecordUid": "", "resourceRecordUid": "",
                   "providerRecordUid": "", "newPassword": "", "oldPassword": "",
                   "records": base64.b64encode(json.dumps([admin] if admin else []).encode()).decode()}
        stdin = base64.b64encode(json.dumps(payload).encode()) + b"\n"
        argv = [_text(self.get_config("keyrotor_path")) or "/usr/bin/keyrotor", "keeper", *args,
                "--region", self._region()]
        state = _text(self.get_config("state"))
        if state:
            argv += ["--state", state]
        endpoint = _text(self.get_config("endpoint_url"))
        if endpoint:
            argv += ["--endpoint-url", endpoint]
        env = dict(os.environ)
        if admin is not None:
            for name in _AWS_CREDENTIAL_ENV:
                env.pop(name, None)
        timeout = int(_text(self.get_config("timeout")) or 300)
        Log.debug(f"running keyrotor keeper {' '.join(args)}")
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout, check=False)
        except FileNotFoundError as err:
            raise SaasException(f"keyrotor was not found at {argv[0]}: install it on the gateway "
                                "or set keyrotor Path.") from err
        except subprocess.TimeoutExpired as err:
            raise SaasException(f"keyrotor did not finish within {timeout} s; its journal lets the next "
                                "rotation finish what it started.") from err
        finally:
            stdin = b""
        out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        # --print-fields: the fields document alone on stdout, the summary last on stderr.
        printing = "--print-fields" in args
        summary_text = err if printing else out
        summary = {}
        for line in reversed(summary_text.strip().splitlines()):
            if line.startswith("{"):
                try:
                    summary = json.loads(line)
                except ValueError:
                    pass
                break
        if done.returncode != 0:
            message = summary.get("message") or (err.strip().splitlines() or ["no message"])[-1]
            raise SaasException(f"keyrotor failed (exit {done.returncode}): {message}")
        fields = json.loads(out) if printing else None
        return {"fields": fields, "summary": summary}

    # --- the framework's entry points ----------------------------------------

    def change_password(self):
        user = self._iam_user()
        Log.info(f"rotating the access key of IAM user {user} with keyrotor")
        result = self._run_keyrotor(["--print-fields", "--keep-old-key"])
        fields, summary = result["fields"], result["summary"]
        key_id = fields.get("aws_access_key_id") if isinstance(fields, dict) else None
        secret = fields.get("aws_secret_access_key") if isinstance(fields, dict) else None
        if not key_id or not _KEY_ID.match(key_id) or not secret:
            raise SaasException("keyrotor's answer has no new access key.")
        self._new_key_id = key_id
        self._kept_key_id = summary.get("kept_access_key_id") or None
        removed = list(summary.get("removed_access_key_ids") or [])
        self.add_return_field(ReturnCustomField(label="aws_access_key_id", value=key_id))
        self.add_return_field(ReturnCustomField(label="aws_secret_access_key", type="secret", value=Secret(secret)))
        self.add_return_field(ReturnCustomField(label="aws_access_key_created", value=fields.get("CreateDate", "")))
        self.add_return_field(ReturnCustomField(label="aws_access_key_ids_removed", value=",".join(removed)))
        secret = None
        fields.pop("aws_secret_access_key", None)
        Log.info(f"IAM user {user}: new access key {key_id}, verified with STS; "
                 f"old key {self._kept_key_id or 'none'} kept inactive until the next rotation")

    def rollback_password(self):
        if self._new_key_id is None:
            raise SaasException("Nothing to roll back: no access key was created by this rotation.")
        user = self._iam_user()
        Log.info(f"rolling back IAM user {user}'s rotation to access key {self._kept_key_id}")
        self._run_keyrotor(["--rollback", self._new_key_id])
        Log.info(f"IAM user {user}: access key {self._new_key_id} deleted, {self._kept_key_id} active again")
        self._new_key_id = None
        self._kept_key_id = None
