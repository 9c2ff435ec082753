"""User-facing errors: the CLI prints these without a traceback."""


class SkyhubError(Exception):
    """An error a user can act on. The message says what went wrong and how to fix it."""

    exit_code = 2
