"""Errors a user can act on. The CLI prints their message alone, without a traceback."""


class AbpnError(Exception):
    """Bad input or a failed precondition; the message says what went wrong and what to do."""
