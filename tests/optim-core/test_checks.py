"""optim.checks: one rule, one exception type and one message style for argument checks.

The assertions check what a message must contain (the argument's name, the value and the valid
range), not its exact wording.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from optim.checks import (
    ArgumentError,
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_int,
    check_int_list,
    check_real,
    check_size,
    is_int,
    is_real,
    parse_int_list,
)


def _message(info: pytest.ExceptionInfo, *parts: str) -> str:
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} is missing from {message!r}"
    return message


# ---- exception types -------------------------------------------------------------------


def test_type_error_is_both_a_type_error_and_a_value_error():
    assert issubclass(ArgumentTypeError, TypeError)
    assert issubclass(ArgumentTypeError, ValueError)
    assert issubclass(ArgumentTypeError, ArgumentError)
    assert issubclass(ArgumentError, ValueError)
    assert not issubclass(ArgumentError, TypeError)


# ---- is_int / is_real ------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -3, 10**20, np.int64(4), np.uint8(2)])
def test_is_int_accepts_python_and_numpy_ints(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 3.0, "3", None, [3], 1j])
def test_is_int_rejects_bools_floats_and_others(value):
    assert not is_int(value)


@pytest.mark.parametrize(
    "value", [0, 2, -1.5, 0.5, float("inf"), float("nan"), np.float32(1.5), Fraction(1, 2)]
)
def test_is_real_accepts_ints_and_floats(value):
    assert is_real(value)


@pytest.mark.parametrize("value", [True, False, "1", None, 1j, [1.0]])
def test_is_real_rejects_bools_strings_and_others(value):
    assert not is_real(value)


# ---- check_int -------------------------------------------------------------------------


def test_check_int_returns_a_python_int():
    assert check_int(3, "steps") == 3
    value = check_int(np.int64(5), "steps", minimum=0)
    assert value == 5 and type(value) is int
    assert check_int(0, "seed", minimum=0, maximum=0) == 0
    assert check_int(-7, "offset", maximum=0) == -7


@pytest.mark.parametrize("value", [True, False, 2.0, "2", None])
def test_check_int_rejects_non_ints_with_a_type_error(value):
    with pytest.raises(ArgumentTypeError) as info:
        check_int(value, "steps", minimum=1)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    message = _message(info, "steps", "int", ">= 1", f"got {value!r}")
    assert message.startswith("steps must be ")


@pytest.mark.parametrize(
    ("kwargs", "value", "rule"),
    [
        ({"minimum": 1}, 0, ">= 1"),
        ({"maximum": 9}, 10, "<= 9"),
        ({"minimum": 0, "maximum": 9}, -1, "0..9"),
        ({"minimum": 0, "maximum": 9}, 10, "0..9"),
    ],
)
def test_check_int_range_errors_name_argument_value_and_range(kwargs, value, rule):
    with pytest.raises(ArgumentError) as info:
        check_int(value, "steps", **kwargs)
    assert not isinstance(info.value, TypeError)
    _message(info, "steps must be ", rule, f"got {value!r}")


def test_check_int_appends_the_hint():
    with pytest.raises(ArgumentError) as info:
        check_int(0, "k", minimum=1, hint="Use k=1 or more.")
    assert _message(info, "k must be ", "got 0").endswith("Use k=1 or more.")


# ---- check_real ------------------------------------------------------------------------


def test_check_real_returns_a_float():
    assert check_real(0.05, "lr", above=0) == 0.05
    value = check_real(2, "lr", minimum=0)
    assert value == 2.0 and type(value) is float
    assert check_real(0, "weight", minimum=0) == 0.0
    assert check_real(np.float32(0.5), "weight") == 0.5
    assert check_real(float("inf"), "weight", finite=False) == math.inf
    assert check_real(0.5, "weight", above=0.25) == 0.5


@pytest.mark.parametrize("value", [True, "0.1", None, [1.0]])
def test_check_real_rejects_bools_and_non_numbers_with_a_type_error(value):
    with pytest.raises(ArgumentTypeError) as info:
        check_real(value, "lr", minimum=0)
    _message(info, "lr must be ", "number", ">= 0", f"got {value!r}")


@pytest.mark.parametrize(
    ("kwargs", "value", "rules"),
    [
        ({"above": 0}, 0, ("positive", "> 0")),
        ({"above": 0}, -1.5, ("positive", "> 0")),
        ({"above": 1}, 1, ("> 1",)),
        ({"minimum": 0}, -0.1, (">= 0",)),
        ({}, float("nan"), ("finite",)),
        ({}, float("inf"), ("finite",)),
        ({"finite": False, "minimum": 0}, -1, (">= 0",)),
    ],
)
def test_check_real_range_errors_name_argument_value_and_range(kwargs, value, rules):
    with pytest.raises(ArgumentError) as info:
        check_real(value, "lr", **kwargs)
    assert not isinstance(info.value, TypeError)
    message = _message(info, "lr must be ", f"got {value!r}")
    assert any(rule in message for rule in rules), message


def test_check_real_finite_false_accepts_infinity_and_does_not_say_finite():
    with pytest.raises(ArgumentTypeError) as info:
        check_real("0.1", "alpha", finite=False)
    assert "finite" not in _message(info, "alpha must be a number", "got '0.1'")


# ---- check_bool ------------------------------------------------------------------------


def test_check_bool():
    assert check_bool(True, "flag") is True
    assert check_bool(False, "flag", optional=True) is False
    assert check_bool(None, "flag", optional=True) is None
    for value in (1, None, "yes"):
        with pytest.raises(ArgumentTypeError) as info:
            check_bool(value, "flag")
        _message(info, "flag must be ", "bool", f"got {value!r}")
    with pytest.raises(ArgumentTypeError) as info:
        check_bool("yes", "cuda_graph", optional=True)
    _message(info, "cuda_graph must be ", "None", "got 'yes'")


# ---- check_choice ----------------------------------------------------------------------


def test_check_choice():
    choices = ("fp32", "bf16", "fp16")
    assert check_choice("fp16", "precision", choices) == "fp16"
    assert check_choice("a", "mode", iter(["a", "b"])) == "a"  # any iterable
    with pytest.raises(ArgumentError) as info:
        check_choice("bf61", "precision", choices)
    assert not isinstance(info.value, TypeError)
    message = _message(info, "precision must be ", "'fp32', 'bf16', 'fp16'", "got 'bf61'")
    assert "Did you mean: bf16" in message
    with pytest.raises(ArgumentError) as info:
        check_choice("zzzz", "precision", choices)
    assert "Did you mean" not in _message(info, "precision must be ", "got 'zzzz'")
    with pytest.raises(ArgumentTypeError) as info:
        check_choice(16, "precision", choices)
    _message(info, "precision must be ", "got 16")


# ---- check_size ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (64, (64, 64)),
        ((32, 48), (32, 48)),
        ([8, 9], (8, 9)),
        (np.int64(3), (3, 3)),
        (torch.Size([4, 5]), (4, 5)),
    ],
)
def test_check_size_accepts_an_int_or_a_pair(size, expected):
    result = check_size(size)
    assert result == expected and all(type(v) is int for v in result)


def test_check_size_minimum_zero():
    assert check_size(0, "crop", minimum=0) == (0, 0)
    assert check_size((0, 3), "crop", minimum=0) == (0, 3)


@pytest.mark.parametrize("size", [True, (True, 4), 4.0, (4.0, 4), "44", (4,), (1, 2, 3), None])
def test_check_size_rejects_bools_floats_and_wrong_lengths_with_a_type_error(size):
    with pytest.raises(ArgumentTypeError) as info:
        check_size(size, "crop_shape")
    _message(info, "crop_shape must be ", "(height, width)", ">= 1", f"got {size!r}")


@pytest.mark.parametrize("size", [0, (0, 4), (4, -1)])
def test_check_size_range_errors_name_argument_value_and_range(size):
    with pytest.raises(ArgumentError) as info:
        check_size(size)
    assert not isinstance(info.value, TypeError)
    _message(info, "size must be ", ">= 1", f"got {size!r}")


def test_check_size_minimum_is_in_the_message():
    with pytest.raises(ArgumentError) as info:
        check_size((8, 4), minimum=8)
    _message(info, ">= 8", "got (8, 4)")


# ---- check_int_list --------------------------------------------------------------------


def test_check_int_list_accepts_any_iterable_of_ints():
    assert check_int_list([3, 1], "channels") == [3, 1]
    assert check_int_list(range(3), "channels", minimum=0, maximum=2) == [0, 1, 2]
    value = check_int_list((np.int64(4),), "channels")
    assert value == [4] and type(value[0]) is int


@pytest.mark.parametrize("values", [3, "0,1", b"01", None])
def test_check_int_list_rejects_a_single_value_or_text(values):
    with pytest.raises(ArgumentTypeError) as info:
        check_int_list(values, "channels")
    _message(info, "channels", "list", f"got {values!r}")


def test_check_int_list_item_errors():
    with pytest.raises(ArgumentError) as info:
        check_int_list([], "channels")
    assert not isinstance(info.value, TypeError)
    _message(info, "channels")
    with pytest.raises(ArgumentTypeError) as info:
        check_int_list([0, True], "channels")
    _message(info, "channels", "int", "got True")
    with pytest.raises(ArgumentError) as info:
        check_int_list([0, 8], "channels", minimum=0, maximum=7)
    _message(info, "channels", "0..7", "got 8")
    with pytest.raises(ArgumentError) as info:
        check_int_list([1, 2, 1, 2, 3], "channels")
    _message(info, "channels", "[1, 2]")


# ---- parse_int_list --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", [5]),
        ("0-3", [0, 1, 2, 3]),
        ("0,3,7", [0, 3, 7]),
        ("0-3,8", [0, 1, 2, 3, 8]),
        (" 1 , 4-5 ", [1, 4, 5]),
        ("2-2", [2]),
    ],
)
def test_parse_int_list_reads_ranges_and_lists(text, expected):
    assert parse_int_list(text, "channels") == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "1,,2", "1-", "0-3-5", "1.5"])
def test_parse_int_list_rejects_bad_text(text):
    with pytest.raises(ArgumentError) as info:
        parse_int_list(text, "channels")
    assert not isinstance(info.value, TypeError)
    _message(info, "channels", repr(text), "0-3,8")


def test_parse_int_list_rejects_non_text_with_a_type_error():
    with pytest.raises(ArgumentTypeError) as info:
        parse_int_list([1], "channels")
    _message(info, "channels", "[1]")
