"""Errors the CLI reports as one line (no traceback), with an exit code."""


class CLIError(Exception):
    """A user error (bad name, unwritable path, invalid option: exit code 2), or a job that
    stopped early after keeping what it finished (Ctrl-C: 130; a non-finite objective: 1).

    Example:
        >>> CLIError("interrupted", exit_code=130).exit_code
        130
    """

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
