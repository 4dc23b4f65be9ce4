"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class AssayError(Exception):
    """A problem with the user's input or configuration, told in one line.

    The message names the file, row or key at fault. The CLI prints it without a traceback
    and exits with ``exit_code`` (2 for bad input or configuration, 1 for a failed gate).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
