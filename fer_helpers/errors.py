"""One error type for problems the reader can fix (a missing folder, a file that is not an image).

Its message is one line that names the file and the reason; the command-line tool prints it without a traceback.
"""


class FerError(Exception):
    """A problem with the reader's input, explained in one line."""


def reason(err: BaseException, limit: int = 100) -> str:
    """The first line of an exception's message (else its type's name), cut to ``limit`` characters: the
    "because" of a one-line :class:`FerError` built from a library's (often multi-line) error."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return first[:limit]
