"""kdnrm.exceptions stand-in: the one exception a plugin raises on failure."""


class SaasException(Exception):
    def __init__(self, msg, code=None, **kwargs):
        super().__init__(msg)
        self.msg = msg
        self.code = code
