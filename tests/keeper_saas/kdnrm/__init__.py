"""A stand-in for Keeper's SaaS rotation framework (kdnrm), for testing
contrib/keeper/saas/ without Keeper's gateway.

Only what the keyrotor plugin uses, shaped as README_class.md of
Keeper-Security/discovery-and-rotation-saas-dev documents it: SaasPluginBase
(config_schema, get_config, can_rollback, add_return_field, change_password,
rollback_password), SaasConfigItem, ReturnCustomField, SaasUser, Field,
Secret, SaasException and Log. Written from that documentation; no code of
Keeper's is copied.
"""
