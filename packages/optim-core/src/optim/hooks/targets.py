"""Resolve objective targets given as modules or as dotted names from ``named_modules()``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from torch import nn

Target = nn.Module | str
"""What an objective may target: a module, or its dotted name in ``model.named_modules()``."""

NestedTargets = Target | Iterable["NestedTargets"]
"""A target or a (nested) iterable of targets, as :func:`flatten_targets` accepts them."""

_BRACKET_INDEX = re.compile(r"\[(\d+)\]")


def _normalize_name(name: str) -> str:
    """Accept ``get_model_layers`` style ``features[0]`` as well as ``features.0``."""
    return _BRACKET_INDEX.sub(r".\1", name).strip(".")


def resolve_target(model: nn.Module, target: Target) -> nn.Module:
    """Return the module that ``target`` designates inside ``model``.

    Modules are returned unchanged (they may live outside the model, e.g. a transform or the
    image parameterization). Strings are looked up among ``model.named_modules()``; the
    bracket form of ``get_model_layers`` (``"features[10]"``) is accepted too.

    Args:
        model: The model whose submodules the names refer to.
        target: An ``nn.Module`` or a dotted name such as ``"layer3.1.conv2"``.

    Returns:
        The designated module.

    Raises:
        ValueError: If the name is not a submodule of ``model``; the message lists the
            closest valid names.
        TypeError: If ``target`` is neither a module nor a string.

    Example:
        >>> import torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        >>> resolve_target(model, "0")
        Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
    """
    if isinstance(target, nn.Module):
        return target
    if not isinstance(target, str):
        raise TypeError(
            f"A target must be an nn.Module or a dotted module name (str), got "
            f"{type(target).__name__}: {target!r}."
        )
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"Resolving the target name {target!r} needs an nn.Module model, got "
            f"{type(model).__name__}."
        )
    modules = dict(model.named_modules())
    name = _normalize_name(target)
    if name and name in modules:
        return modules[name]
    valid = [n for n in modules if n]
    close = difflib.get_close_matches(name, valid, n=5, cutoff=0.5)
    hint = (
        f"Closest valid names: {', '.join(repr(c) for c in close)}."
        if close
        else f"Valid names start with: {', '.join(repr(v) for v in valid[:8])}"
        + (", ..." if len(valid) > 8 else ".")
    )
    raise ValueError(
        f"{type(model).__name__} has no submodule named {target!r}. {hint} "
        "`optim layers MODEL` lists them with their output shapes (in Python: "
        "opt.model_utils.get_model_layers(model))."
    )


def resolve_targets(
    model: nn.Module, targets: Target | Iterable[Target]
) -> dict[Target, nn.Module]:
    """Resolve one or several targets, keeping the caller's keys (modules or names).

    Args:
        model: The model the names refer to.
        targets: A module, a name, or an iterable of those. Duplicates are dropped.

    Returns:
        An insertion-ordered ``{target as given: module}`` mapping.

    Example:
        >>> import torch.nn as nn
        >>> model = nn.Sequential(nn.Linear(2, 2))
        >>> list(resolve_targets(model, ["0", model[0]]).values())[0] is model[0]
        True
    """
    return {target: resolve_target(model, target) for target in flatten_targets(targets)}


def flatten_targets(targets: NestedTargets | None) -> list[Target]:
    """Turn a single target, ``None`` or a (nested) iterable of targets into a flat list.

    Duplicates are dropped, keeping the first occurrence.

    Example:
        >>> flatten_targets(["a", ["b", "a"]])
        ['a', 'b']
    """
    if targets is None:
        return []
    if isinstance(targets, nn.Module | str):
        return [targets]
    if isinstance(targets, Mapping):
        raise TypeError("Targets must be a module, a name or a list of those, not a mapping.")
    flat: list[Target] = []
    pending = [iter(targets)]
    while pending:
        try:
            item = next(pending[-1])
        except StopIteration:
            pending.pop()
            continue
        if isinstance(item, nn.Module | str):
            flat.append(item)
        elif isinstance(item, Iterable):
            pending.append(iter(item))
        else:
            raise TypeError(
                f"A target must be an nn.Module or a dotted module name (str), got "
                f"{type(item).__name__}: {item!r}."
            )
    return list(dict.fromkeys(flat))
