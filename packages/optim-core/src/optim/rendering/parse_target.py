"""Parse unit targets written as text: ``"layer:channel"`` or ``"layer:channel:x:y"``.

A bare ``"layer"`` is accepted too, for objectives that take no channel (``deep_dream``).

Example:
    >>> from optim.rendering.parse_target import parse_target
    >>> parse_target("blocks.3:17")
    UnitTarget(layer='blocks.3', channel=17, x=None, y=None)
    >>> str(parse_target("features.4:5:3:2"))
    'features.4:5:3:2'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UnitTarget", "parse_target"]

_FORMS = "'layer:channel' (a whole channel) or 'layer:channel:x:y' (one neuron)"
_ALL_FORMS = _FORMS + ", or 'layer' for objectives without a channel"


@dataclass(frozen=True)
class UnitTarget:
    """A channel, or one neuron of it, of a named layer.

    ``x`` is the column (width) and ``y`` the row (height) of a neuron; both are ``None`` for a
    whole channel. ``channel`` is ``None`` for a whole layer.
    """

    layer: str
    channel: int | None = None
    x: int | None = None
    y: int | None = None

    @property
    def is_neuron(self) -> bool:
        """Whether this targets one spatial position rather than the whole channel."""
        return self.x is not None

    def __str__(self) -> str:
        parts = [self.layer]
        if self.channel is not None:
            parts.append(str(self.channel))
        if self.is_neuron:
            parts += [str(self.x), str(self.y)]
        return ":".join(parts)


def _non_negative_int(text: str, what: str, spec: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"The {what} in target {spec!r} must be a whole number, got {text!r}. "
            f"Write the target as {_FORMS}."
        ) from None
    if value < 0:
        raise ValueError(f"The {what} in target {spec!r} must be >= 0, got {value}.")
    return value


def parse_target(spec: str) -> UnitTarget:
    """Parse ``"layer:channel"``, ``"layer:channel:x:y"`` or ``"layer"`` into a :class:`UnitTarget`.

    Args:
        spec: the layer's dotted name from ``model.named_modules()``, then optionally the
            channel index and the neuron's column ``x`` and row ``y``, separated by colons.

    Returns:
        The parsed target (the layer name is not checked against a model here).

    Raises:
        ValueError: the text has the wrong number of parts, an empty layer name, or an index
            that is not a non-negative whole number.

    Example:
        >>> parse_target("mixed4a:465")
        UnitTarget(layer='mixed4a', channel=465, x=None, y=None)
    """
    if not isinstance(spec, str):
        raise TypeError(f"A target must be a string like {_FORMS}, got {type(spec).__name__}.")
    parts = [part.strip() for part in spec.strip().split(":")]
    if len(parts) not in (1, 2, 4):
        raise ValueError(f"Cannot read target {spec!r}: write it as {_ALL_FORMS}.")
    layer = parts[0]
    if not layer:
        raise ValueError(
            f"Target {spec!r} has no layer name: write it as {_FORMS}; "
            "`optim layers MODEL` lists the layer names."
        )
    if len(parts) == 1:
        return UnitTarget(layer)
    channel = _non_negative_int(parts[1], "channel", spec)
    if len(parts) == 2:
        return UnitTarget(layer, channel)
    x = _non_negative_int(parts[2], "x (column)", spec)
    y = _non_negative_int(parts[3], "y (row)", spec)
    return UnitTarget(layer, channel, x, y)
