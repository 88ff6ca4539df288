"""RenderSpec: validation once, in the dataclass, with errors naming the field; a JSON round
trip over many generated specs; the CLI's defaults come from it."""

from __future__ import annotations

import argparse
import json
import random

import pytest

from optim.checks import ArgumentError, ArgumentTypeError
from optim.rendering import LAYER_JOB, RenderSpec
from optim.rendering.spec import MAX_SEED, PYTHON_PREFIX


def _random_spec(rng: random.Random) -> RenderSpec:
    layer = rng.choice(["conv1", "_blocks.10", "mixed4a", "features.4.conv"])
    layer_job = rng.random() < 0.3
    if layer_job:
        target = layer
        channels = tuple(rng.sample(range(512), rng.randint(1, 12)))
    else:
        channels = None
        parts = [layer, str(rng.randrange(512))]
        if rng.random() < 0.3:
            parts += [str(rng.randrange(20)), str(rng.randrange(20))]
        target = ":".join(parts)
        if rng.random() < 0.1:
            target = PYTHON_PREFIX + "optim.loss.activation.ChannelActivation"
    height = rng.randint(8, 512)
    return RenderSpec(
        model=rng.choice(["efficientnet_lite0", "googlenet", "torchvision/resnet50"]),
        pretrained=rng.random() < 0.5,
        target=target,
        channels=channels,
        objective=rng.choice([None, "channel_activation", "deep_dream"]),
        size=rng.choice([height, (height, rng.randint(8, 512))]),
        steps=rng.randint(1, 4096),
        lr=rng.choice([0.05, 1e-4, rng.uniform(1e-6, 10.0), 3]),
        seed=rng.choice([None, 0, MAX_SEED, rng.randrange(MAX_SEED)]),
        batch=rng.randint(1, 64),
        batch_size=rng.randint(1, 64),
        parameterization=rng.choice(["fft_image", "pixel_image", "laplacian_image", "maco"]),
        transforms=rng.choice(["transformation_robustness", "none", "random_spatial_jitter"]),
        precision=rng.choice(["fp32", "bf16", "fp16"]),
        cuda_graph=rng.choice(["auto", "on", "off"]),
        device=rng.choice([None, "cpu", "cuda", "cuda:1"]),
    )


def test_json_round_trip_over_many_generated_specs():
    rng = random.Random(0)
    for _ in range(500):
        spec = _random_spec(rng)
        text = spec.to_json()
        again = RenderSpec.from_json(text)
        assert again == spec, text
        assert json.loads(again.to_json()) == json.loads(text)
        assert RenderSpec.from_dict(spec.to_dict()) == spec


def test_values_are_normalised_once():
    spec = RenderSpec(size=64, channels=range(3), lr=1, target="conv1")
    assert spec.size == (64, 64) and spec.channels == (0, 1, 2)
    assert isinstance(spec.lr, float) and spec.unit.layer == "conv1"
    assert RenderSpec(target="conv2:5:1:13").unit.is_neuron
    assert not RenderSpec(target="conv2:5").unit.is_neuron


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("model", "", "non-empty string"),
        ("model", 3, "non-empty string"),
        ("pretrained", "yes", "a bool"),
        ("target", "conv2:x", "whole number"),
        ("target", "a:1:2", "Cannot read target"),
        ("target", None, "non-empty string"),
        ("channels", [1, 1], "more than once"),
        ("channels", [], "is empty"),
        ("channels", 3, "for one channel write"),
        ("channels", [-1], "an int >= 0"),
        ("objective", 7, "registered name"),
        ("size", 4, "at least 8 px"),
        ("size", (8, 8, 8), "(height, width)"),
        ("size", 32.0, "(height, width)"),
        ("steps", 0, "a whole number >= 1"),
        ("steps", True, "a whole number >= 1"),
        ("steps", 2.5, "a whole number >= 1"),
        ("lr", 0, "a positive finite number"),
        ("lr", float("nan"), "a positive finite number"),
        ("lr", "0.1", "a positive finite number"),
        ("seed", -1, f"a whole number in 0..{MAX_SEED}"),
        ("seed", MAX_SEED + 1, f"a whole number in 0..{MAX_SEED}"),
        ("batch", 0, "a whole number >= 1"),
        ("batch_size", False, "a whole number >= 1"),
        ("parameterization", None, "non-empty string"),
        ("transforms", "", "non-empty string"),
        ("precision", "fp64", "one of 'fp32', 'bf16', 'fp16'"),
        ("cuda_graph", True, "one of 'auto', 'on', 'off'"),
        ("device", "tpu:x", "device such as 'cpu'"),
        ("device", 0, "'cpu' or 'cuda:0'"),
    ],
)
def test_each_bad_field_is_an_error_naming_it_the_value_and_the_rule(field, value, rule):
    with pytest.raises((ArgumentError, ArgumentTypeError)) as raised:
        RenderSpec(**{field: value})
    message = str(raised.value)
    assert isinstance(raised.value, ValueError | TypeError)
    assert field in message and rule in message, message
    if field not in ("target", "channels"):  # those quote the value inside the rule
        assert repr(value) in message, message


def test_a_unit_target_with_channels_is_refused():
    with pytest.raises(ArgumentError, match="bare layer name when channels are given"):
        RenderSpec(target="conv2:3", channels=[1])


def test_from_json_refuses_unknown_fields_and_bad_json():
    with pytest.raises(ArgumentError, match=r"Unknown render spec field.*turbo"):
        RenderSpec.from_json('{"turbo": true}')
    with pytest.raises(ArgumentError, match="must be JSON"):
        RenderSpec.from_json("{steps: 3")
    with pytest.raises(ArgumentTypeError, match="JSON object"):
        RenderSpec.from_json("[1, 2]")


def test_seed_is_drawn_once_and_python_objects_are_not_rebuildable():
    drawn = RenderSpec().with_seed()
    assert 0 <= drawn.seed <= MAX_SEED and drawn.with_seed() is drawn
    assert RenderSpec().rebuildable
    assert not RenderSpec(parameterization=PYTHON_PREFIX + "my.Image").rebuildable


def test_the_cli_reads_its_defaults_from_the_spec():
    from optim.cli import build_parser
    from optim.cli.render_options import RENDER_OPTIONS, spec_from_args

    parser = build_parser()
    render_args = parser.parse_args(["render"])
    options = (*RENDER_OPTIONS, "target")
    assert spec_from_args(render_args, RenderSpec(), options) == RenderSpec()
    layer_args = parser.parse_args(["layer"])
    assert spec_from_args(layer_args, LAYER_JOB, RENDER_OPTIONS) == LAYER_JOB
    given = argparse.Namespace(**{**vars(render_args), "steps": 9, "random_weights": True})
    changed = spec_from_args(given, RenderSpec(), options)
    assert changed == RenderSpec(steps=9, pretrained=False)
