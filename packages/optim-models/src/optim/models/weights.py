"""Loading weights for the zoo: hub cache or local file, ``weights_only``, strict checking.

Every factory calls :func:`load_weights`. Remote files live in the torch hub cache,
``$TORCH_HOME/hub/checkpoints/<file>`` (the place ``torch.hub.load_state_dict_from_url``
uses): a file already there is read without network, so a machine without network works
once the file is placed there (or when ``model_path`` is given).

Every failure to read or apply a weights file raises one :class:`WeightsError` (a
``ValueError``) whose message stands alone: the file's path, what is wrong with it in one
sentence, and what to do. torch's own message is never repeated (for a file that is not a
plain state dict it advises turning ``weights_only`` off, which would run arbitrary code from
the file); the original exception stays available as ``__context__``.
"""

from __future__ import annotations

import http.client
import logging
import os
import pickle
import urllib.error
import urllib.parse
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "WeightsError",
    "WeightsFileError",
    "WeightsMismatchError",
    "WeightsUnavailableError",
    "check_state_dict",
    "download_to_cache",
    "hub_cache_path",
    "load_state_dict",
    "load_weights",
]

logger = logging.getLogger(__name__)

_SHOWN_KEYS = 5
# Buffers that carry no learned values; files converted from other frameworks often lack them.
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)
# First bytes of torch.save's files: a zip archive (torch >= 1.6) or a legacy pickle.
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")


class WeightsError(ValueError):
    """A weights file cannot be used; the message names the file and what to do."""


class WeightsFileError(WeightsError):
    """A weights file cannot be read: empty, truncated, corrupt, or not a PyTorch file."""


class WeightsMismatchError(WeightsError, RuntimeError):
    """A file's content is not a state dict that fits the architecture it is loaded into.

    Also a ``RuntimeError``, as it was before it became a :class:`WeightsError`.
    """


class WeightsUnavailableError(WeightsError, FileNotFoundError):
    """The weights are not on this machine (no ``model_path`` file, nothing in the hub cache)
    and could not be downloaded; the message says where to place them."""


def hub_cache_path(url: str) -> Path:
    """Where the torch hub cache keeps ``url``'s file: ``$TORCH_HOME/hub/checkpoints/<file>``.

    Example:
        >>> hub_cache_path("https://example.com/w/inception5h.pth").name
        'inception5h.pth'
    """
    filename = os.path.basename(urllib.parse.urlparse(url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _hub_remedy(path: Path, url: str) -> str:
    return (
        f"Delete it and place a good copy of {url} at {path} (with network access it is "
        "downloaded again), or pass model_path=<file>."
    )


def _file_remedy(path: Path) -> str:
    return f"Delete it and place a good copy at {path}, or pass another model_path."


def _download_failure(exc: BaseException) -> str:
    """A one-line reason for a failed download, without the traceback."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    return " ".join(str(reason).split()) or type(exc).__name__


def download_to_cache(url: str, path: Path, progress: bool, what: str) -> None:
    """Fetch ``url`` to ``path`` in the hub cache, or raise :class:`WeightsUnavailableError`
    saying that ``what`` (e.g. ``"InceptionV1 weights"``) is not available offline, with the
    URL and where to place the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # torch writes to a temporary file next to ``path`` and renames it when complete.
        torch.hub.download_url_to_file(url, str(path), None, progress=progress)
    except (OSError, http.client.HTTPException) as exc:  # URLError/HTTPError are OSErrors
        raise WeightsUnavailableError(
            f"{what} are not available offline: {path.name} is not in the torch hub "
            f"cache and downloading it failed ({_download_failure(exc)}). Download {url} on a "
            f"machine with network and place it at {path}, or pass model_path=<file>."
        ) from None
    logger.info("Downloaded %s to %s", url, path)


def _read_problem(path: Path, exc: BaseException) -> str:
    """What is wrong with the file at ``path`` that ``torch.load`` failed on, in a few words.

    torch's message is looked at to classify the failure, never repeated.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(4)
    except OSError as unreadable:  # permissions, a broken link, an I/O error
        return f"cannot be read ({unreadable.strerror or type(unreadable).__name__})"
    text = str(exc)
    if size == 0:
        return "is empty (0 bytes)"
    if "TorchScript" in text:
        return "is a TorchScript archive (torch.jit.save), not a state dict"
    if not head.startswith(_TORCH_MAGIC) or "magic number" in text:
        return f"is not a PyTorch weights file ({size} bytes that torch.save did not write)"
    if isinstance(exc, pickle.UnpicklingError):
        return (
            "is not a plain state dict: it holds pickled Python objects other than tensors "
            "(a whole model or a custom checkpoint), which are never loaded"
        )
    return f"is truncated or corrupt ({size} bytes; torch cannot read it to the end)"


def _read_file(path: Path, remedy: str) -> object:
    """``torch.load(path, weights_only=True)``, or one :class:`WeightsError` naming ``path``."""
    if path.exists() and not path.is_file():
        raise WeightsFileError(f"Weights file {path} is not a file. {remedy}")
    if path.suffix == ".safetensors":
        return _read_safetensors(path, remedy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except MemoryError:
            raise
        except Exception as exc:  # torch raises many types here; each is classified below
            problem = _read_problem(path, exc)
            raise WeightsFileError(f"Weights file {path} {problem}. {remedy}") from None
    for warning in caught:  # replayed only when the file loaded (a failure explains itself)
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return state


def _read_safetensors(path: Path, remedy: str) -> dict[str, torch.Tensor]:
    """A ``.safetensors`` file (timm's Hugging Face weights), or one :class:`WeightsError`."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise WeightsFileError(
            f"Weights file {path} is a .safetensors file and the safetensors package is not "
            "installed: pip install safetensors."
        ) from None
    if not path.is_file():
        raise WeightsFileError(f"Weights file {path} is not a file. {remedy}")
    try:
        return load_file(str(path), device="cpu")
    except Exception:  # safetensors raises its own error types for every damage
        raise WeightsFileError(
            f"Weights file {path} is not a readable safetensors file (empty, truncated or "
            f"corrupt). {remedy}"
        ) from None


def _check_mapping(state: object, path: Path, remedy: str) -> dict[str, torch.Tensor]:
    """``state`` as a dict of names to tensors, or a :class:`WeightsMismatchError`."""
    if not isinstance(state, Mapping):
        raise WeightsMismatchError(
            f"Weights file {path} holds a {type(state).__name__}, not a state dict (a mapping of "
            f"names to tensors, saved with torch.save(model.state_dict(), path)). {remedy}"
        )
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise WeightsMismatchError(
                f"Weights file {path} holds no plain state dict: entry {key!r} is a "
                f"{type(value).__name__}, not a tensor (a checkpoint wrapping the weights? save "
                f"model.state_dict() itself). {remedy}"
            )
    return dict(state)


def _locate(
    url: str | None,
    model_path: str | os.PathLike | None,
    progress: bool,
    name: str,
    remedy: str | None,
) -> tuple[Path, str]:
    """The file to read (downloaded into the hub cache when missing) and the advice for it."""
    if model_path is not None:
        path = Path(model_path).absolute()
        if not path.is_file():
            raise WeightsUnavailableError(
                f"model_path {str(path)!r} does not exist or is not a file. Pass the path of a "
                "saved state dict (torch.save(model.state_dict(), path))."
            )
        return path, remedy or _file_remedy(path)
    if url is not None:
        path = hub_cache_path(url)
        if not path.exists():
            download_to_cache(url, path, progress, f"{name} weights")
        return path, remedy or _hub_remedy(path, url)
    raise ValueError("load_state_dict needs a url or a model_path")


def load_state_dict(
    url: str | None = None,
    model_path: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    name: str = "The",
    remedy: str | None = None,
) -> dict[str, torch.Tensor]:
    """Read a state dict from ``model_path``, or from ``url`` through the torch hub cache.

    Args:
        url: the weights URL; its file name is looked up in ``$TORCH_HOME/hub/checkpoints``
            and downloaded there only when missing.
        model_path: a local ``.pth``/``.pt`` file; wins over ``url``.
        progress: show a download progress bar.
        name: the model the weights are for, in messages (``"InceptionV1"``).
        remedy: what to do when the file is bad (default: delete it and place a good copy).

    Raises:
        WeightsUnavailableError: no ``model_path`` file, or not in the cache and the download
            failed; says where to place the file.
        WeightsFileError: the file is empty, truncated, corrupt or not a PyTorch file.
        WeightsMismatchError: the file holds something other than a state dict.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "w.pth"
        >>> torch.save({"weight": torch.ones(2)}, path)
        >>> load_state_dict(model_path=path)["weight"]
        tensor([1., 1.])
        >>> tmp.cleanup()
    """
    path, remedy = _locate(url, model_path, progress, name, remedy)
    return _check_mapping(_read_file(path, remedy), path, remedy)


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    more = f" (and {len(keys) - _SHOWN_KEYS} more)" if len(keys) > _SHOWN_KEYS else ""
    return shown + more


def _mismatch(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """What keeps ``state_dict`` from fitting ``model`` (first few keys of each kind), or None."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k} (file {tuple(v.shape)}, model {tuple(expected[k].shape)})"
        for k, v in state_dict.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {_listing(mismatched)}")
    if not problems:
        return None
    other = " (no key in common: another architecture's weights)"
    other = other if not set(expected) & set(state_dict) else ""
    return f"do not fit {type(model).__name__}{other}: " + "; ".join(problems)


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`WeightsMismatchError` unless ``state_dict`` fits ``model`` exactly.

    The message names the first few missing keys, unexpected keys and shape mismatches.

    Example:
        >>> check_state_dict(nn.Linear(2, 1), {"weight": torch.zeros(1, 3)})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        optim.models.weights.WeightsMismatchError: The weights do not fit Linear: missing keys: ...
    """
    problem = _mismatch(model, state_dict)
    if problem is not None:
        raise WeightsMismatchError(f"The weights {problem}")


def load_weights(
    model: nn.Module,
    url: str | None = None,
    model_path: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    remedy: str | None = None,
) -> nn.Module:
    """Load weights into ``model`` strictly (see :func:`check_state_dict`) and return it.

    Every failure is a :class:`WeightsError` naming the file (see :func:`load_state_dict`);
    ``remedy`` replaces the default advice (delete the file and place a good copy there).

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(tmp.name) / "w.pth"
        >>> torch.save(nn.Linear(2, 1).state_dict(), path)
        >>> load_weights(nn.Linear(2, 1), model_path=path).weight.shape
        torch.Size([1, 2])
        >>> tmp.cleanup()
    """
    name = type(model).__name__
    path, remedy = _locate(url, model_path, progress, name, remedy)
    state_dict = _check_mapping(_read_file(path, remedy), path, remedy)
    problem = _mismatch(model, state_dict)
    if problem is None:
        try:
            model.load_state_dict(state_dict, strict=False)
        except RuntimeError as exc:  # e.g. a dtype that cannot be copied into the parameter
            problem = f"cannot be copied into {name} ({type(exc).__name__})"
    if problem is not None:
        raise WeightsMismatchError(f"The weights in {path} {problem}. {remedy}") from None
    # Recorded so that run manifests can name (and hash) the exact file the weights came from.
    # nn.Module.__setattr__ is typed Tensor | Module, but any value is accepted at runtime.
    weights_file = str(path.resolve()) if model_path is not None else str(path)
    model.weights_file = weights_file  # type: ignore[assignment]
    return model
