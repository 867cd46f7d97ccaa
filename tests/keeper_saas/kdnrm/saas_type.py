"""kdnrm.saas_type stand-in: the data classes of README_class.md (pydantic
models there; plain classes with the same fields here)."""
from typing import Any, List, Optional, Union

from kdnrm.secret import Secret


class _Model:
    _fields = {}

    def __init__(self, **kwargs):
        for name, default in self._fields.items():
            value = kwargs.pop(name, default)
            setattr(self, name, list(value) if isinstance(value, list) else value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(kwargs)}")


class SaasConfigEnum(_Model):
    _fields = {"value": None, "desc": None, "code": None}


class SaasConfigItem(_Model):
    _fields = {"id": None, "label": None, "desc": None, "type": "text", "default_value": None, "enum_values": [],
               "required": False, "code": None, "desc_code": None, "is_secret": False}


class ReturnCustomField(_Model):
    _fields = {"label": None, "type": "text", "value": None}


class Field(_Model):
    _fields = {"type": "text", "label": None, "values": []}


class SaasUser(_Model):
    _fields = {"username": None, "dn": None, "new_password": None, "prior_password": None, "new_private_key": None,
               "prior_private_key": None, "database": None, "fields": []}


class AwsConfig(_Model):
    _fields = {"aws_access_key_id": None, "aws_secret_access_key": None, "region_names": []}
