"""Options and checks shared by ``optim render``, ``optim layer`` and ``optim layers``.

The render settings become a :class:`~optim.rendering.RenderSpec`: every option defaults to
``None`` (so ``--spec`` can tell what was given) and the spec supplies the defaults.

Example:
    >>> import argparse
    >>> from optim.rendering import RenderSpec
    >>> args = argparse.Namespace(steps=8, size=None)
    >>> spec_from_args(args, RenderSpec(), ("steps", "size")).steps
    8
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from optim.checks import parse_int_list
from optim.cli.errors import CLIError
from optim.rendering.spec import CUDA_GRAPH_CHOICES, PRECISIONS, TOKENS, RenderSpec

if TYPE_CHECKING:
    from torch import nn

    from optim.rendering.model_source import ModelSource

__all__ = [
    "DEFAULT_OUT",
    "RENDER_OPTIONS",
    "add_channel_options",
    "add_model_options",
    "add_render_options",
    "check_output_dir",
    "check_output_file",
    "job_spec",
    "load_model",
    "plugin_module",
    "spec_from_args",
    "user_errors",
    "with_fresh_seed",
]

DEFAULT_OUT = "render.png"
"""Where ``optim render`` writes when no ``--out`` is given."""

RENDER_OPTIONS = (
    "model", "size", "steps", "lr", "seed", "parameterization", "transforms", "objective",
    "token", "precision", "cuda_graph", "device",
)  # fmt: skip
"""The options of :func:`add_render_options` and ``--model``, named as RenderSpec fields."""


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's input errors (ValueError, LookupError, ImportError) into
    a one-line CLIError.

    Example:
        >>> with user_errors():
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


def plugin_module(name: str) -> ModuleType:
    """The first-party module ``optim.<name>`` (e.g. ``"dataset"``), or an ImportError saying
    which distribution to install.

    Example:
        With optim-dataset installed, ``plugin_module("dataset")`` is ``optim.dataset``;
        without it:

        >>> from unittest import mock
        >>> import optim
        >>> with mock.patch.object(optim, "_plugin_modules", dict):  # no plugin installed
        ...     plugin_module("dataset")
        Traceback (most recent call last):
        ...
        ImportError: `optim.dataset` is provided by the optim-dataset distribution, which is not
        installed. Fix it with: pip install optim-dataset (or, ...)
    """
    import importlib

    import optim

    if name not in optim._plugin_modules():
        raise optim._missing(name)
    return importlib.import_module(f"optim.{name}")


def add_model_options(parser: argparse.ArgumentParser, *, weights: bool = True) -> None:
    """``--device`` and, when ``weights``, ``--random-weights``."""
    if weights:
        parser.add_argument(
            "--random-weights",
            action="store_true",
            help="use the architecture with random weights instead of the pretrained ones",
        )
    parser.add_argument("--device", default=None, help="cpu (default) or cuda[:N]")


def add_render_options(parser: argparse.ArgumentParser, defaults: RenderSpec) -> None:
    """The settings of a render, with ``defaults``' values in the help."""
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help=f"image size in px; the model's own if it takes one size only (a ViT), else "
        f"{defaults.size[0]}",
    )
    parser.add_argument(
        "--steps", type=int, default=None, help=f"optimisation steps; {defaults.steps}"
    )
    parser.add_argument("--lr", type=float, default=None, help=f"Adam learning rate; {defaults.lr}")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed (drawn if omitted; a resumed layer or model job keeps its own)",
    )
    parser.add_argument(
        "--parameterization",
        default=None,
        help="image parameterization (`optim plugins --kind parameterizations`); "
        f"{defaults.parameterization}",
    )
    parser.add_argument(
        "--transforms",
        default=None,
        help=f"transform name (`optim plugins --kind transforms`) or 'none'; {defaults.transforms}",
    )
    parser.add_argument(
        "--objective",
        default=None,
        help="objective name (`optim plugins --kind objectives`); default channel_activation "
        "(neuron_activation for layer:channel:x:y)",
    )
    parser.add_argument(
        "--token",
        default=None,
        choices=TOKENS,
        help="on a token layer (a vision transformer's [B, tokens, features]): a channel is a "
        "feature averaged over the patch tokens (and LAYER:CHANNEL:X:Y one patch), or the "
        f"class token's feature; {defaults.token}",
    )
    parser.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help="run the model under autocast in bf16/fp16 (image, transforms and objective stay "
        f"fp32); {defaults.precision}",
    )
    parser.add_argument(
        "--cuda-graph",
        default=None,
        choices=CUDA_GRAPH_CHOICES,
        help=f"replay each step as a CUDA graph; {defaults.cuda_graph}: on for CUDA when possible",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar (for logs)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace output files that exist already (by default they are never "
        "overwritten; a layer or model job resumes its own folder, and with --force renders "
        "everything again)",
    )


def add_channel_options(
    parser: argparse.ArgumentParser, defaults: RenderSpec, channels_help: str
) -> None:
    """``--channels`` and ``--batch-size`` of a layer or model job (see :func:`job_spec`)."""
    default = defaults.channels
    shown = f"{default[0]}-{default[-1]}" if default else "all"
    parser.add_argument(
        "--channels",
        default=None,
        help=f"{channels_help}: 'all', 0-15, 0,3,7 or 0-3,8; default {shown}",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"channels optimised together; default {defaults.batch_size}",
    )


def job_spec(args: argparse.Namespace, defaults: RenderSpec, **given: Any) -> RenderSpec:
    """:func:`spec_from_args` of a layer or model job: with ``--channels`` (``all``: every
    channel of the layer) and ``--batch-size``.

    Example:
        >>> options = dict.fromkeys(RENDER_OPTIONS)  # none of the render options given
        >>> args = argparse.Namespace(channels="0-2", batch_size=None, **options)
        >>> job_spec(args, RenderSpec(), target="conv").channels
        (0, 1, 2)
    """
    given["batch_size"] = args.batch_size
    if args.channels is not None and args.channels != "all":
        with user_errors():
            given["channels"] = tuple(parse_int_list(args.channels, "--channels"))
    spec = spec_from_args(args, defaults, RENDER_OPTIONS, **given)
    return spec.replace(channels=None) if args.channels == "all" else spec


def spec_from_args(
    args: argparse.Namespace, defaults: RenderSpec, options: Iterable[str], **given: Any
) -> RenderSpec:
    """``defaults`` with the ``options`` the user gave (and ``given``) applied, validated.

    Example:
        >>> spec_from_args(argparse.Namespace(lr=0.1), RenderSpec(), ["lr"]).lr
        0.1
    """
    changes = {name: getattr(args, name) for name in options}
    changes.update(given)
    if getattr(args, "random_weights", False):
        changes["pretrained"] = False
    with user_errors():
        return defaults.replace(**{k: v for k, v in changes.items() if v is not None})


def with_fresh_seed(spec: RenderSpec) -> RenderSpec:
    """``spec`` with a seed from the operating system when it has none (then recorded).

    Example:
        >>> with_fresh_seed(RenderSpec(seed=4)).seed
        4
    """
    return spec.with_seed(fresh=True)


def load_model(spec: RenderSpec) -> tuple[nn.Module, ModelSource]:
    """The registered model of ``spec`` on its device, and its ModelSource; or a CLIError.

    Random weights (``pretrained=False``) are drawn from the spec's seed, so that a render of
    an untrained model is reproducible like any other.
    """
    from optim.rendering.engine import available_device, seeded
    from optim.rendering.model_source import load_registered_model

    with user_errors():
        device = available_device(spec.device or "cpu")
        if spec.pretrained:
            return load_registered_model(spec.model, pretrained=True, device=device)
        with seeded(spec.seed or 0):  # random weights are part of what the seed reproduces
            return load_registered_model(spec.model, pretrained=False, device=device)


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
