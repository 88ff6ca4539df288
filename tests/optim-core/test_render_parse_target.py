"""Parsing 'layer:channel' and 'layer:channel:x:y' targets."""

from __future__ import annotations

import pytest

from optim.rendering import UnitTarget, parse_target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("conv2:3", UnitTarget("conv2", 3)),
        ("blocks.4.2:17", UnitTarget("blocks.4.2", 17)),
        ("features[10]:0", UnitTarget("features[10]", 0)),
        ("_blocks.4:12:3:5", UnitTarget("_blocks.4", 12, x=3, y=5)),
        (" mixed4a : 465 ", UnitTarget("mixed4a", 465)),
        ("mixed4a", UnitTarget("mixed4a")),
    ],
)
def test_parse_target_forms(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["conv2:3", "a.b:0:1:2", "layer"])
def test_parse_target_round_trips_through_str(text):
    assert str(parse_target(text)) == text


def test_neuron_flag():
    assert parse_target("a:1:2:3").is_neuron
    assert not parse_target("a:1").is_neuron


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("conv2:3:4", "write it as"),
        ("a:1:2:3:4", "write it as"),
        (":3", "no layer name"),
        ("conv2:three", "channel in target 'conv2:three' must be a whole number"),
        ("conv2:-1", "must be >= 0"),
        ("conv2:1:x:2", "x (column)"),
        ("conv2:1:2:-5", "y (row)"),
    ],
)
def test_parse_target_errors_say_what_to_write(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_target(text)


def test_parse_target_rejects_non_strings():
    with pytest.raises(TypeError, match="must be a string"):
        parse_target(3)
