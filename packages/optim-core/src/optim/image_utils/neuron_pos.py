"""Default spatial position of a neuron."""

from __future__ import annotations


def get_neuron_pos(H: int, W: int, x: int | None = None, y: int | None = None) -> tuple[int, int]:
    """Return ``(x, y)``: the given coordinates, or the centre ``(W // 2, H // 2)``.

    Args:
        H: activation height.
        W: activation width.
        x: optional x coordinate, must be in ``[0, W)``.
        y: optional y coordinate, must be in ``[0, H)``.

    Example:
        >>> get_neuron_pos(7, 8)
        (4, 3)
    """
    _x = W // 2 if x is None else x
    _y = H // 2 if y is None else y
    if not 0 <= _x < W:
        raise ValueError(f"x={_x} is outside the activation width; valid range is [0, {W - 1}].")
    if not 0 <= _y < H:
        raise ValueError(f"y={_y} is outside the activation height; valid range is [0, {H - 1}].")
    return _x, _y
