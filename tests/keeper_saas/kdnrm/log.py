"""kdnrm.log stand-in: the gateway's log, kept in memory so tests can scan it."""


class Log:
    lines = []

    @classmethod
    def _add(cls, level, msg):
        cls.lines.append(f"{level}: {msg}")

    @classmethod
    def debug(cls, msg):
        cls._add("DEBUG", msg)

    @classmethod
    def info(cls, msg):
        cls._add("INFO", msg)

    @classmethod
    def warning(cls, msg):
        cls._add("WARNING", msg)

    @classmethod
    def error(cls, msg):
        cls._add("ERROR", msg)
