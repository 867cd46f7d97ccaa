"""kdnrm.secret stand-in. Keeper's Secret encrypts its value in memory; this
one only hides it from repr/str, which is what the tests check (a Secret
printed or logged shows no value)."""


class Secret:
    def __init__(self, value=None):
        self._value = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value):
        self._value = value

    @property
    def value_strip(self):
        return self._value.strip() if isinstance(self._value, str) else self._value

    @property
    def bytes(self):
        return str(self._value).encode()

    @staticmethod
    def get_value(value):
        return value.value if isinstance(value, Secret) else value

    @staticmethod
    def get_secret(value):
        return value if isinstance(value, Secret) else Secret(value)

    def __repr__(self):
        return "Secret(****)"

    __str__ = __repr__
