"""The zoo's factory contract: ``f(pretrained=False, progress=True, model_path=None, **kw)``."""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from torch import nn

from optim.models.weights import load_weights

__all__ = ["build_model"]

ModelT = TypeVar("ModelT", bound=nn.Module)


def _check_kwargs(model_class: type[nn.Module], kwargs: Mapping[str, Any]) -> None:
    valid = [
        name
        for name, p in inspect.signature(model_class).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    for name in kwargs:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"{model_class.__name__} has no option {name!r}.{hint} "
                f"Valid options: {', '.join(valid) or '(none)'}"
            )


def build_model(
    model_class: type[ModelT],
    url: str | None,
    pretrained: bool,
    progress: bool,
    model_path: str | os.PathLike | None,
    pretrained_defaults: Mapping[str, Any],
    kwargs: dict[str, Any],
    *,
    remedy: str | None = None,
) -> ModelT:
    """Build ``model_class(**kwargs)`` and load its weights when asked.

    With ``pretrained=True`` (or a ``model_path``) each option of ``pretrained_defaults``
    that the caller did not set is filled in, the model is built, and the weights come
    from ``model_path`` or from ``url`` through the torch hub cache, loaded strictly. A file
    that cannot be read or does not fit raises a :class:`~optim.models.weights.WeightsError`
    naming it; ``remedy`` replaces its default advice (delete it and place a good copy).

    Example:
        >>> model = build_model(nn.Linear, None, False, True, None, {}, {"in_features": 2,
        ...                     "out_features": 1})
        >>> model.weight.shape
        torch.Size([1, 2])
    """
    if not isinstance(pretrained, bool):
        raise TypeError(f"pretrained must be True or False, got {pretrained!r}")
    _check_kwargs(model_class, kwargs)
    load = pretrained or model_path is not None
    if load:
        kwargs = {**pretrained_defaults, **kwargs}
    model = model_class(**kwargs)
    if load:
        if model_path is None and url is None:
            raise ValueError(
                f"{model_class.__name__} has no published weights; pass model_path=<file>."
            )
        load_weights(model, url=url, model_path=model_path, progress=progress, remedy=remedy)
        model.eval()
    return model
