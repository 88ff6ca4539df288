"""RenderSpec: everything a render needs, validated once, with a JSON round trip.

A spec is what the CLI builds from its options, what ``render``/``render_layer`` run, what a
result carries and what a manifest records; ``optim render --spec`` reads it back. Every
default of a render is defined here and nowhere else.

Settings that name things use registry names (``optim plugins``). A render of Python objects
(a model, an ``optim.loss.Loss``, a module as parameterization) records them as
``"python:<module>.<qualname>"``: such a spec describes a render but cannot rebuild it
(:attr:`RenderSpec.rebuildable`).

Example:
    >>> from optim.rendering.spec import RenderSpec
    >>> spec = RenderSpec(target="_blocks.10:2", size=128, seed=0)
    >>> spec.size
    (128, 128)
    >>> RenderSpec.from_json(spec.to_json()) == spec
    True
    >>> RenderSpec(steps=0)
    Traceback (most recent call last):
    ...
    optim.checks.ArgumentError: steps must be a whole number >= 1, got 0.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from optim.checks import (
    ArgumentError,
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_int,
    check_int_list,
    check_real,
    check_size,
)
from optim.rendering.parse_target import UnitTarget, parse_target

__all__ = [
    "CUDA_GRAPH_CHOICES",
    "CUDA_GRAPH_SETTINGS",
    "LAYER_JOB",
    "MAX_SEED",
    "MIN_SIZE",
    "NO_TRANSFORMS",
    "PRECISIONS",
    "PYTHON_PREFIX",
    "RenderSpec",
    "TOKENS",
    "describe_object",
]

MAX_SEED = 2**31 - 1
"""Seeds are drawn from and limited to [0, MAX_SEED] so that they fit every RNG and JSON."""
MIN_SIZE = 8
"""The smallest image side a render accepts, in px."""
PRECISIONS = ("fp32", "bf16", "fp16")
CUDA_GRAPH_SETTINGS: dict[str, bool | None] = {"auto": None, "on": True, "off": False}
"""``cuda_graph`` values and the ``FastPath(cuda_graph=...)`` each one means."""
CUDA_GRAPH_CHOICES = tuple(CUDA_GRAPH_SETTINGS)
PYTHON_PREFIX = "python:"
"""Prefix of the description of a Python object that a spec cannot rebuild."""
TOKENS = ("patches", "class")
"""What a channel of a token layer means (``optim.loss.ActivationLayout.token``); kept here too
because a spec is read without importing torch."""
NO_TRANSFORMS = "none"
"""The transforms name that means: feed the image to the model as it is."""


def describe_object(obj: Any) -> str:
    """``"python:<module>.<qualname>"`` of an object (or of its class).

    Example:
        >>> import torch.nn as nn
        >>> describe_object(nn.Identity())
        'python:torch.nn.modules.linear.Identity'
    """
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{PYTHON_PREFIX}{cls.__module__}.{cls.__qualname__}"


def _check_name(value: Any, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        rule = "a registered name (`optim plugins`) or None" if optional else "a non-empty string"
        raise ArgumentTypeError(f"{name} must be {rule}, got {value!r}.")


@dataclass(frozen=True)
class RenderSpec:
    """Every setting of a render (one unit) or of a layer job (``channels`` set).

    Attributes:
        model: the registry name of the model (``optim plugins --kind models``).
        pretrained: load the trained weights (``False``: the architecture's random init,
            drawn from ``seed``).
        target: ``"layer:channel"`` or ``"layer:channel:x:y"`` for one render; just
            ``"layer"`` for a layer job.
        channels: the channels of a layer job (``None``: a single render, or every channel
            when ``target`` is a bare layer rendered by ``render_layer``).
        objective: a registered objective name; ``None`` means ``channel_activation``
            (``neuron_activation`` for ``layer:channel:x:y``).
        token: on a token layer (``[B, tokens, features]``, vision transformers):
            ``"patches"`` (a channel is a feature averaged over the patch tokens, ``x:y`` one
            patch) or ``"class"`` (the class token's feature).
        size: ``(height, width)`` in px (an int means a square), at least 8. A model that
            takes one size only (a ViT) needs exactly that size.
        steps: Adam steps (per batch in a layer job).
        lr: Adam learning rate.
        seed: the seed of every random draw; ``None`` until a render draws one.
        batch: images optimised together in one render.
        batch_size: channels optimised together in a layer job.
        parameterization: a registered image parameterization name.
        transforms: a registered transform name, or ``"none"``.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast of the model on a GPU).
        cuda_graph: ``"auto"`` (on for CUDA when possible), ``"on"`` or ``"off"``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``; ``None``: wherever the model is.
    """

    model: str = "efficientnet_lite0"
    pretrained: bool = True
    target: str = "_blocks.10:2"
    channels: tuple[int, ...] | None = None
    objective: str | None = None
    token: str = "patches"
    size: tuple[int, int] = (160, 160)
    steps: int = 256
    lr: float = 0.05
    seed: int | None = None
    batch: int = 1
    batch_size: int = 8
    parameterization: str = "fft_image"
    transforms: str = "transformation_robustness"
    precision: str = "fp32"
    cuda_graph: str = "auto"
    device: str | None = None
    _unit: UnitTarget | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__.__get__(self)  # frozen: normalise fields in place
        _check_name(self.model, "model")
        check_bool(self.pretrained, "pretrained")
        _check_name(self.target, "target")
        if not self.target.startswith(PYTHON_PREFIX):
            try:
                set_("_unit", parse_target(self.target))
            except (TypeError, ValueError) as exc:
                raise ArgumentError(f"target: {exc}") from None
        if self.channels is not None:
            set_(
                "channels",
                tuple(check_int_list(self.channels, "channels", minimum=0, item="channel")),
            )
            if self._unit is not None and self._unit.channel is not None:
                raise ArgumentError(
                    f"target must be a bare layer name when channels are given, got "
                    f"{self.target!r}; write target={self._unit.layer!r}."
                )
        _check_name(self.objective, "objective", optional=True)
        check_choice(self.token, "token", TOKENS)
        size_hint = f"Renders need at least {MIN_SIZE} px."
        set_("size", check_size(self.size, "size", minimum=MIN_SIZE, hint=size_hint))
        whole = "a whole number"
        set_("steps", check_int(self.steps, "steps", minimum=1, what=whole))
        set_("lr", check_real(self.lr, "lr", above=0, hint="Try 0.05."))
        if self.seed is not None:
            set_("seed", check_int(self.seed, "seed", minimum=0, maximum=MAX_SEED, what=whole))
        set_("batch", check_int(self.batch, "batch", minimum=1, what=whole))
        set_("batch_size", check_int(self.batch_size, "batch_size", minimum=1, what=whole))
        _check_name(self.parameterization, "parameterization")
        _check_name(self.transforms, "transforms")
        check_choice(self.precision, "precision", PRECISIONS)
        check_choice(self.cuda_graph, "cuda_graph", CUDA_GRAPH_CHOICES)
        if self.device is not None:
            set_("device", _check_device(self.device))

    # ---- derived views ---------------------------------------------------------------------
    @property
    def unit(self) -> UnitTarget:
        """The parsed target (says whether it is a layer, a channel or a neuron).

        Raises:
            ValueError: the target describes a Python objective (``"python:..."``).
        """
        if self._unit is None:
            raise ValueError(f"target {self.target!r} is a Python object, not a unit name.")
        return self._unit

    @property
    def rebuildable(self) -> bool:
        """Whether every named thing is a registry name (so ``--spec`` can re-run it)."""
        named = (self.model, self.target, self.objective, self.parameterization, self.transforms)
        return not any(isinstance(v, str) and v.startswith(PYTHON_PREFIX) for v in named)

    @property
    def fixed_seed(self) -> int:
        """The seed of a spec that has one (:meth:`with_seed` gives it one).

        Raises:
            ValueError: the spec has no seed yet.

        Example:
            >>> RenderSpec(seed=7).fixed_seed
            7
        """
        if self.seed is None:
            raise ValueError("This RenderSpec has no seed yet; call spec.with_seed() first.")
        return self.seed

    def with_seed(self, *, fresh: bool = False) -> RenderSpec:
        """This spec with a seed: its own, or a drawn one.

        A missing seed is drawn from torch's global RNG, so ``torch.manual_seed(s)`` before a
        render makes it reproducible as any torch code is. ``fresh=True`` draws from the
        operating system instead (what the CLI does: a new process would otherwise start
        from torch's fixed default seed every time).

        Example:
            >>> 0 <= RenderSpec().with_seed().seed <= MAX_SEED
            True
        """
        if self.seed is not None:
            return self
        if fresh:
            return dataclasses.replace(self, seed=secrets.randbelow(MAX_SEED + 1))
        import torch

        return dataclasses.replace(self, seed=int(torch.randint(MAX_SEED + 1, ()).item()))

    def for_batch(self, batch: list[int] | tuple[int, ...]) -> RenderSpec:
        """The spec of one batch of a layer job: exactly those channels, in one batch (what a
        channel manifest records, and what re-renders that channel bitwise).

        Example:
            >>> RenderSpec(target="conv", channels=(0, 1, 2)).for_batch([2]).batch_size
            1
        """
        return self.replace(channels=tuple(batch), batch_size=len(batch))

    def replace(self, **changes: Any) -> RenderSpec:
        """A copy with ``changes`` applied (validated like a new spec).

        Example:
            >>> RenderSpec().replace(steps=8).steps
            8
        """
        return dataclasses.replace(self, **changes)

    # ---- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready values (tuples become lists).

        Example:
            >>> RenderSpec(size=(32, 48)).to_dict()["size"]
            [32, 48]
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json(self) -> str:
        """The spec as a JSON object (indented, field order kept)."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def field_names(cls) -> list[str]:
        """The names of the settings, in order."""
        return [f.name for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RenderSpec:
        """Build a spec from :meth:`to_dict` output; unknown keys are an error.

        Example:
            >>> RenderSpec.from_dict({"steps": 8, "size": [32, 32]}).size
            (32, 32)
        """
        if not isinstance(values, dict):
            raise ArgumentTypeError(f"a render spec must be a JSON object, got {values!r}.")
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ArgumentError(
                f"Unknown render spec field(s) {', '.join(unknown)}; known: "
                f"{', '.join(cls.field_names())}."
            )
        given = dict(values)
        for key in ("size", "channels"):
            if isinstance(given.get(key), list):
                given[key] = tuple(given[key])
        return cls(**given)

    @classmethod
    def from_json(cls, text: str) -> RenderSpec:
        """Build a spec from :meth:`to_json` output.

        Example:
            >>> RenderSpec.from_json('{"target": "mixed4a:465"}').unit.channel
            465
        """
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArgumentError(
                f"a render spec must be JSON: {exc.msg} at line {exc.lineno}."
            ) from None
        return cls.from_dict(values)


def _check_device(device: Any) -> str:
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ArgumentTypeError(
            f"device must be a string such as 'cpu' or 'cuda:0', got {device!r}."
        )
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise ArgumentError(
            f"device must be a device such as 'cpu' or 'cuda:0', got {device!r}."
        ) from None
    return device


LAYER_JOB = RenderSpec(target="_blocks.10", channels=tuple(range(16)), size=(96, 96), steps=64)
"""What ``optim layer`` renders with no arguments: 16 channels of the default model in a minute."""
