"""Writing outputs safely: atomically (temp file + rename), and never over a file that this
run did not create unless the caller says so.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from optim.rendering.files import write_text_atomic
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_text_atomic(Path(tmp, "out", "manifest.json"), "{}")
    ...     path.read_text(), [p.name for p in path.parent.iterdir()]  # no temp file left
    ('{}', ['manifest.json'])
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["OutputExistsError", "check_new", "write_atomic", "write_text_atomic"]


class OutputExistsError(ValueError):
    """An output file exists already and overwriting it was not allowed."""


def check_new(paths: Iterable[str | os.PathLike[str]], *, force: bool = False) -> None:
    """Raise :class:`OutputExistsError` naming the first of ``paths`` that exists.

    Example:
        >>> check_new(["no/such/file.png"])
    """
    if force:
        return
    for path in paths:
        if Path(path).exists():
            raise OutputExistsError(
                f"{str(path)!r} exists already and was not written by this run; choose "
                "another --out, or pass --force to replace it."
            )


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(temp_path)`` and rename the temp file to ``path`` once it is complete.

    The temp file lies beside ``path`` with the same suffix (so writers that pick the format
    from it work); a reader, a crash or Ctrl-C never sees a half-written ``path``.

    Example:
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = write_atomic(Path(tmp, "a.txt"), lambda temp: temp.write_text("hi"))
        ...     path.name, path.read_text()
        ('a.txt', 'hi')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    temp = Path(name)
    try:
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp's 0600 would outlive the rename
        write(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Example:
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_text_atomic(Path(tmp, "index.html"), "<!DOCTYPE html>").read_text()
        '<!DOCTYPE html>'
    """
    return write_atomic(path, lambda temp: temp.write_text(text, encoding="utf-8"))
