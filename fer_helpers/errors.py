"""One error type for problems the reader can fix (a missing folder, a file that is not an image).

Its message is one line that names the file and the reason; the command-line tool prints it without a traceback.
"""


class FerError(Exception):
    """A problem with the reader's input, explained in one line."""
