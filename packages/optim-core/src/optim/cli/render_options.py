"""Options and checks shared by ``optim render``, ``optim layer`` and ``optim layers``.

Example:
    >>> from optim.cli.render_options import parse_channels
    >>> parse_channels("0-3,8")
    [0, 1, 2, 3, 8]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from optim.cli.errors import CLIError

__all__ = [
    "add_model_options",
    "add_render_options",
    "check_output_dir",
    "check_output_file",
    "load_model",
    "parse_channels",
    "user_errors",
]


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's input errors (ValueError, LookupError, ImportError) into CLIError.

    Example:
        >>> with user_errors():  # doctest: +SKIP
        ...     raise ValueError("bad")
        Traceback (most recent call last):
        optim.cli.errors.CLIError: bad
    """
    try:
        yield
    except KeyError as exc:
        raise CLIError(_one_line(exc.args[0] if exc.args else exc)) from None
    except (ValueError, LookupError, ImportError) as exc:
        raise CLIError(_one_line(str(exc))) from None


def add_model_options(parser: argparse.ArgumentParser, *, weights: bool = True) -> None:
    """``--device`` and, when ``weights``, ``--random-weights``."""
    if weights:
        parser.add_argument(
            "--random-weights",
            action="store_true",
            help="use the architecture with random weights instead of the pretrained ones",
        )
    parser.add_argument("--device", default=None, help="cpu (default) or cuda[:N]")


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """The settings of a render. Defaults are ``None`` so ``--spec`` can tell what was given."""
    parser.add_argument("--size", type=int, default=None, help="image size in px")
    parser.add_argument("--steps", type=int, default=None, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=None, help="random seed (drawn if omitted)")
    parser.add_argument(
        "--parameterization",
        default=None,
        help="image parameterization (`optim plugins --kind parameterizations`); fft_image",
    )
    parser.add_argument(
        "--transforms",
        default=None,
        help="transform name (`optim plugins --kind transforms`) or 'none'; "
        "transformation_robustness",
    )
    parser.add_argument(
        "--objective",
        default=None,
        help="objective name (`optim plugins --kind objectives`); default channel_activation "
        "(neuron_activation for layer:channel:x:y)",
    )
    parser.add_argument(
        "--precision",
        default=None,
        choices=("fp32", "bf16", "fp16"),
        help="run the model under autocast in bf16/fp16 (image, transforms and objective stay "
        "fp32); default fp32",
    )
    parser.add_argument(
        "--cuda-graph",
        default=None,
        choices=("auto", "on", "off"),
        help="replay each step as a CUDA graph; auto (default): on for CUDA when possible",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar (for logs)"
    )


def fast_path_from_args(args: argparse.Namespace):
    """The :class:`~optim.optimization.FastPath` that ``--precision``/``--cuda-graph`` ask for.

    Example:
        >>> fast_path_from_args(argparse.Namespace(precision="bf16", cuda_graph="off")).autocast
        'bf16'
    """
    from optim.optimization import FastPath

    graph = {None: None, "auto": None, "on": True, "off": False}[args.cuda_graph]
    return FastPath(autocast=args.precision or "fp32", cuda_graph=graph)


def load_model(name: str, *, pretrained: bool, device: str | None):
    """The registered model and its :class:`~optim.rendering.ModelSource`, or a CLIError."""
    import torch

    from optim.rendering.model_source import load_registered_model

    device = device or "cpu"
    with user_errors():
        try:
            torch.device(device)
        except RuntimeError:
            raise ValueError(f"Unknown device {device!r}; use cpu or cuda[:N].") from None
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {device} was asked for, but CUDA is not available.")
        return load_registered_model(name, pretrained=pretrained, device=device)


def _check_writable_dir(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".optim-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CLIError(
            f"cannot write {what} to {str(folder)!r}: {reason}; choose another --out."
        ) from None


def check_output_file(path: str, suffix: str = ".png") -> Path:
    """``path`` as a Path after checking its folder can be written (created if missing)."""
    out = Path(path)
    if out.suffix.lower() != suffix:
        raise CLIError(f"--out must name a {suffix} file, got {path!r}.")
    if out.is_dir():
        raise CLIError(f"--out {path!r} is a folder; name a {suffix} file inside it.")
    _check_writable_dir(out.parent if str(out.parent) else Path("."), "the image")
    return out


def check_output_dir(path: str) -> Path:
    """``path`` as a folder that exists (created if missing) and can be written."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {path!r} is a file; name a folder for the gallery.")
    _check_writable_dir(out, "the gallery")
    return out


def parse_channels(text: str) -> list[int]:
    """Channels from ``"0-15"``, ``"0,3,7"`` or a mix such as ``"0-3,8"``.

    Example:
        >>> parse_channels("5")
        [5]
    """
    channels: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                if last < first:
                    raise ValueError
                channels.extend(range(first, last + 1))
            else:
                channels.append(int(part))
        except ValueError:
            raise CLIError(
                f"cannot read --channels {text!r}: write e.g. 0-15, 0,3,7 or 0-3,8."
            ) from None
    return channels
