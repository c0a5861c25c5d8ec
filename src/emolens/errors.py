"""One exception type for problems the user can fix: the CLI prints its message on one line, no traceback."""


class EmolensError(Exception):
    """Bad input or configuration; the message names the thing and the reason."""
