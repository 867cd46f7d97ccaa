"""kdnrm.saas_plugins stand-in: SaasPluginBase as README_class.md describes it.

The gateway maps the SaaS configuration record's custom fields to the
plugin's config_schema by label; get_config(id) returns the field's value, or
the item's default_value when the field is blank or missing. A required item
with no value fails before the plugin runs.
"""
from typing import Any, List, Optional

from kdnrm.exceptions import SaasException
from kdnrm.saas_type import SaasConfigItem


class Record:
    """A Keeper record as the gateway hands it over: custom fields by label."""

    def __init__(self, title: str, custom: Optional[dict] = None):
        self.title = title
        self.custom = dict(custom or {})


class SaasPluginBase:

    name = "NA"

    @classmethod
    def requirements(cls) -> List[str]:
        return []

    @classmethod
    def config_schema(cls) -> List[SaasConfigItem]:
        return []

    def __init__(self, user, config_record, provider_config=None, force_fail: bool = False):
        self.user = user
        self.config_record = config_record
        self.provider_config = provider_config
        self.force_fail = force_fail
        self.name = self.__class__.name
        self.return_fields = []
        self.field_config = {}
        for item in self.config_schema():
            value = config_record.custom.get(item.label) if config_record is not None else None
            if isinstance(value, list):
                value = value[0] if value else None
            if value in (None, ""):
                value = item.default_value
            if value in (None, "") and item.required:
                raise SaasException(f"The required field {item.label} is blank.")
            self.field_config[item.id] = value

    def get_config(self, key: str, default: Optional[Any] = None) -> Any:
        return self.field_config.get(key, default)

    @property
    def can_rollback(self) -> bool:
        return False

    def add_return_field(self, field):
        self.return_fields.append(field)

    def change_password(self):
        pass

    def rollback_password(self):
        pass
