"""Argument checks shared by every optim package: one rule, one exception type, one message style.

Every message reads ``"<name> must be <rule>, got <value!r>."`` (plus a hint where one helps).
A wrong *type* raises :class:`ArgumentTypeError`, a value outside the valid range raises
:class:`ArgumentError`. ``ArgumentTypeError`` is both a ``TypeError`` and a ``ValueError``, so
callers that catch either keep working.

Example:
    >>> from optim.checks import check_int, check_size, parse_int_list
    >>> check_int(3, "steps", minimum=1)
    3
    >>> check_size(64)
    (64, 64)
    >>> parse_int_list("0-3,8", "channels")
    [0, 1, 2, 3, 8]
    >>> check_int(True, "steps")
    Traceback (most recent call last):
    ...
    optim.checks.ArgumentTypeError: steps must be an int, got True.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any, TypeGuard

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "check_bool",
    "check_choice",
    "check_int",
    "check_int_list",
    "check_real",
    "check_size",
    "is_int",
    "is_real",
    "parse_int_list",
]


class ArgumentError(ValueError):
    """An argument has the right type but a value outside what is valid."""


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument has the wrong type (also a ``TypeError``)."""


def _fail(cls: type[ArgumentError], name: str, rule: str, value: Any, hint: str = "") -> None:
    raise cls(f"{name} must be {rule}, got {value!r}." + (f" {hint}" if hint else ""))


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an integer (Python or numpy), and not a bool.

    Narrows ``value`` to ``int`` for type checkers (a numpy integer behaves as one).

    Example:
        >>> is_int(3), is_int(True), is_int(3.0)
        (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a real number (int or float, Python or numpy), and not a bool.

    Narrows ``value`` to ``float`` for type checkers (an int or numpy real behaves as one).

    Example:
        >>> is_real(0.5), is_real(False), is_real("1")
        (True, False, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _range_rule(kind: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} in {minimum}..{maximum}"
    if minimum is not None:
        return f"{kind} >= {minimum}"
    if maximum is not None:
        return f"{kind} <= {maximum}"
    return kind


def check_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    hint: str = "",
    what: str = "an int",
) -> int:
    """``value`` as an ``int`` if it is one within ``[minimum, maximum]``.

    ``what`` names the kind in the message (``"a whole number"`` reads better for users of a
    command line than ``"an int"``).

    Raises:
        ArgumentTypeError: not an int (bools are not ints here).
        ArgumentError: outside the range.

    Example:
        >>> check_int(0, "seed", minimum=0, maximum=9)
        0
        >>> check_int(10, "seed", minimum=0, maximum=9)
        Traceback (most recent call last):
        ...
        optim.checks.ArgumentError: seed must be an int in 0..9, got 10.
    """
    rule = _range_rule(what, minimum, maximum)
    if not is_int(value):
        _fail(ArgumentTypeError, name, rule, value, hint)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        _fail(ArgumentError, name, rule, value, hint)
    return int(value)


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    finite: bool = True,
    hint: str = "",
) -> float:
    """``value`` as a ``float`` if it is a real number ``>= minimum`` (``> above``), finite.

    Example:
        >>> check_real(0.05, "lr", above=0)
        0.05
        >>> check_real(0, "lr", above=0)
        Traceback (most recent call last):
        ...
        optim.checks.ArgumentError: lr must be a positive finite number, got 0.
    """
    kind = "a finite number" if finite else "a number"
    if above == 0:
        rule = "a positive " + kind[2:]
    elif above is not None:
        rule = f"{kind} > {above}"
    else:
        rule = _range_rule(kind, minimum, None)
    if not is_real(value):
        _fail(ArgumentTypeError, name, rule, value, hint)
    if (
        (finite and not math.isfinite(value))
        or (minimum is not None and value < minimum)
        or (above is not None and not value > above)
    ):
        _fail(ArgumentError, name, rule, value, hint)
    return float(value)


def check_bool(value: Any, name: str, *, optional: bool = False) -> bool | None:
    """``value`` if it is a bool (or ``None`` when ``optional``).

    Example:
        >>> check_bool(None, "cuda_graph", optional=True) is None
        True
    """
    if value is None and optional:
        return None
    if not isinstance(value, bool):
        _fail(ArgumentTypeError, name, "True, False or None" if optional else "a bool", value)
    return value


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``; otherwise the closest valid ones are named.

    Example:
        >>> check_choice("bf16", "precision", ("fp32", "bf16", "fp16"))
        'bf16'
        >>> check_choice("bf61", "precision", ("fp32", "bf16", "fp16"))
        Traceback (most recent call last):
        ...
        optim.checks.ArgumentError: precision must be one of 'fp32', 'bf16', 'fp16', got 'bf61'. Did you mean: bf16, fp16?
    """  # noqa: E501
    options = list(choices)
    rule = "one of " + ", ".join(repr(c) for c in options)
    if not isinstance(value, str):
        _fail(ArgumentTypeError, name, rule, value)
    if value not in options:
        close = difflib.get_close_matches(value, options, n=3, cutoff=0.5)
        _fail(
            ArgumentError, name, rule, value, f"Did you mean: {', '.join(close)}?" if close else ""
        )
    return value


def check_size(
    size: Any, name: str = "size", *, minimum: int = 1, hint: str = ""
) -> tuple[int, int]:
    """``(height, width)`` from an int or a pair of ints, each ``>= minimum``.

    Example:
        >>> check_size((32, 48), minimum=8)
        (32, 48)
        >>> check_size(4, minimum=8)
        Traceback (most recent call last):
        ...
        optim.checks.ArgumentError: size must be an int >= 8 or (height, width) ints >= 8, got 4.
    """
    rule = f"an int >= {minimum} or (height, width) ints >= {minimum}"
    if is_int(size):
        pair: tuple[Any, ...] = (size, size)
    elif isinstance(size, Sequence) and not isinstance(size, str):
        pair = tuple(size)
    else:
        pair = ()
    if len(pair) != 2 or not all(is_int(s) for s in pair):
        _fail(ArgumentTypeError, name, rule, size, hint)
    if min(pair) < minimum:
        _fail(ArgumentError, name, rule, size, hint)
    return int(pair[0]), int(pair[1])


def check_int_list(
    values: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    item: str = "value",
) -> list[int]:
    """A non-empty list of distinct ints in ``[minimum, maximum]`` from any iterable of ints.

    Example:
        >>> check_int_list(range(3), "channels", minimum=0)
        [0, 1, 2]
        >>> check_int_list([1, 1], "channels")
        Traceback (most recent call last):
        ...
        optim.checks.ArgumentError: channels lists [1] more than once; list each once.
    """
    if isinstance(values, str | bytes) or is_int(values) or not isinstance(values, Iterable):
        raise ArgumentTypeError(
            f"{name} must be a list of ints, got {values!r}; for one {item} write [{item}]."
        )
    chosen = list(values)
    if not chosen:
        raise ArgumentError(f"{name} is empty: give at least one {item}.")
    item_rule = _range_rule("an int", minimum, maximum)
    for value in chosen:
        if not is_int(value):
            _fail(ArgumentTypeError, f"each of {name}", item_rule, value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            _fail(ArgumentError, f"each of {name}", item_rule, value)
    repeated = sorted({c for c in chosen if chosen.count(c) > 1})
    if repeated:
        raise ArgumentError(f"{name} lists {repeated} more than once; list each once.")
    return [int(c) for c in chosen]


MAX_LIST_LENGTH = 1 << 16
"""The most values :func:`parse_int_list` expands a text to (no layer has more channels)."""


def parse_int_list(text: str, name: str, *, limit: int = MAX_LIST_LENGTH) -> list[int]:
    """Ints from ``"0-15"``, ``"0,3,7"`` or a mix such as ``"0-3,8"`` (ranges inclusive).

    The count is checked before anything is expanded, so ``"0-100000000"`` fails at once.

    Example:
        >>> parse_int_list("5", "channels")
        [5]
        >>> parse_int_list("3-1", "channels")
        Traceback (most recent call last):
        ...
        optim.checks.ArgumentError: cannot read channels '3-1': write e.g. 0-15, 0,3,7 or 0-3,8.
        >>> parse_int_list("0-100000000", "channels")
        Traceback (most recent call last):
        ...
        optim.checks.ArgumentError: channels '0-100000000' lists 100000001 values; at most 65536 can be rendered in one job.
    """  # noqa: E501
    message = f"cannot read {name} {text!r}: write e.g. 0-15, 0,3,7 or 0-3,8."
    if not isinstance(text, str):
        raise ArgumentTypeError(message)
    spans: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        try:
            first, _, last = part.partition("-") if "-" in part[1:] else (part, "", part)
            span = (int(first), int(last))
        except ValueError:
            raise ArgumentError(message) from None
        if span[1] < span[0] or span[0] < 0:
            raise ArgumentError(message)
        spans.append(span)
    count = sum(last - first + 1 for first, last in spans)
    if count > limit:
        raise ArgumentError(
            f"{name} {text!r} lists {count} values; at most {limit} can be rendered in one job."
        )
    return [value for first, last in spans for value in range(first, last + 1)]
