"""Errors the CLI reports as one line with exit code 2 (no traceback)."""


class CLIError(Exception):
    """A user error: bad model/layer/channel name, unwritable path, invalid option."""
