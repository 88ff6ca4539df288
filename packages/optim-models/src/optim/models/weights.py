"""Loading weights for the zoo: hub cache or local file, ``weights_only``, strict checking.

Every factory calls :func:`load_weights`. Remote files go through
``torch.hub.load_state_dict_from_url``, which reuses ``$TORCH_HOME/hub/checkpoints/<file>``
when it is already there, so a machine without network works once the file is placed
there (or when ``model_path`` is given).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

__all__ = ["WeightsMismatchError", "check_state_dict", "load_state_dict", "load_weights"]

_SHOWN_KEYS = 5
# Buffers that carry no learned values; files converted from other frameworks often lack them.
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)


class WeightsMismatchError(RuntimeError):
    """A state dict does not fit the architecture it is loaded into."""


def load_state_dict(
    url: str | None = None, model_path: str | os.PathLike | None = None, progress: bool = True
) -> dict[str, torch.Tensor]:
    """Read a state dict from ``model_path``, or from ``url`` through the torch hub cache.

    Args:
        url: the weights URL; its file name is looked up in ``$TORCH_HOME/hub/checkpoints``.
        model_path: a local ``.pth``/``.pt`` file; wins over ``url``.
        progress: show a download progress bar.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.pth"
        >>> torch.save({"weight": torch.ones(2)}, path)
        >>> load_state_dict(model_path=path)["weight"]
        tensor([1., 1.])
    """
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"model_path {str(path)!r} does not exist or is not a file. Pass the path of a "
                "saved state dict (torch.save(model.state_dict(), path))."
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
    elif url is not None:
        state = torch.hub.load_state_dict_from_url(
            url, progress=progress, check_hash=False, map_location="cpu", weights_only=True
        )
    else:
        raise ValueError("load_state_dict needs a url or a model_path")
    if not isinstance(state, Mapping):
        raise WeightsMismatchError(
            f"Expected a state dict (a mapping of names to tensors), got {type(state).__name__}. "
            "Save weights with torch.save(model.state_dict(), path)."
        )
    return dict(state)


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    more = f" (and {len(keys) - _SHOWN_KEYS} more)" if len(keys) > _SHOWN_KEYS else ""
    return shown + more


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`WeightsMismatchError` unless ``state_dict`` fits ``model`` exactly.

    The message names the first few missing keys, unexpected keys and shape mismatches.

    Example:
        >>> check_state_dict(nn.Linear(2, 1), {"weight": torch.zeros(1, 3)})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        optim.models.weights.WeightsMismatchError: The weights do not fit Linear: missing keys: ...
    """
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
    if problems:
        raise WeightsMismatchError(
            f"The weights do not fit {type(model).__name__}: " + "; ".join(problems)
        )


def load_weights(
    model: nn.Module,
    url: str | None = None,
    model_path: str | os.PathLike | None = None,
    progress: bool = True,
) -> nn.Module:
    """Load weights into ``model`` strictly (see :func:`check_state_dict`) and return it.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.pth"
        >>> torch.save(nn.Linear(2, 1).state_dict(), path)
        >>> load_weights(nn.Linear(2, 1), model_path=path).weight.shape
        torch.Size([1, 2])
    """
    state_dict = load_state_dict(url=url, model_path=model_path, progress=progress)
    check_state_dict(model, state_dict)
    model.load_state_dict(state_dict, strict=False)
    # Recorded so that run manifests can name (and hash) the exact file the weights came from.
    model.weights_file = str(Path(model_path).resolve()) if model_path else _hub_cache_path(url)
    return model


def _hub_cache_path(url: str | None) -> str | None:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``url``'s file."""
    if url is None:
        return None
    filename = os.path.basename(urllib.parse.urlparse(url).path)
    return os.path.join(torch.hub.get_dir(), "checkpoints", filename)
