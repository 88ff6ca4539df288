"""TransformationRobustness: SPEC defaults, stage order, seeded determinism, torch.compile."""

from __future__ import annotations

import pytest
import torch

from optim.images import NaturalImage
from optim.transforms import (
    RandomRotation,
    RandomScale,
    RandomSpatialJitter,
    TransformationRobustness,
)


def test_default_lists_match_spec():
    robustness = TransformationRobustness()
    pad = robustness.padding_transform
    assert isinstance(pad, torch.nn.ConstantPad2d) and pad.padding == (2, 2, 2, 2)
    assert pad.value == 0.5
    jitters = list(robustness.jitter_transforms)
    assert [j.translate for j in jitters] == [4] * 10
    scale = robustness.random_scale.scale
    assert len(scale) == 125
    assert scale[0] == pytest.approx(0.995**-5)
    assert scale[84] == pytest.approx(0.995**79)
    assert scale[85] == pytest.approx(0.998**20)
    assert scale[-1] == pytest.approx(0.998**39)
    degrees = robustness.random_rotation.degrees
    assert len(degrees) == 75
    assert degrees[:3] == [-20, -19, -18] and degrees[-5:] == [0] * 5
    assert robustness.final_jitter.translate == 2
    assert robustness.crop_or_pad_output is False


def test_default_padding_is_not_shared():
    assert TransformationRobustness().padding_transform is not (
        TransformationRobustness().padding_transform
    )


def test_stages_can_be_disabled_and_crop_restores_size():
    identity = TransformationRobustness(None, None, None, None, None)
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(identity(x), x)
    cropped = TransformationRobustness(crop_or_pad_output=True)(torch.rand(2, 3, 24, 24))
    assert cropped.shape == (2, 3, 24, 24)
    single = TransformationRobustness(translate=3)
    assert isinstance(single.jitter_transforms, RandomSpatialJitter)


def test_stage_order_matches_manual_composition():
    x = torch.rand(1, 3, 20, 20)
    seed = 11
    robustness = TransformationRobustness(
        translate=[2, 3], scale=[0.9, 1.1], degrees=[-5, 5], final_translate=1,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    generator = torch.Generator().manual_seed(seed)
    manual = torch.nn.functional.pad(x, [2] * 4, value=0.5)
    for stage in [
        RandomSpatialJitter(2, generator=generator),
        RandomSpatialJitter(3, generator=generator),
        RandomScale([0.9, 1.1], generator=generator),
        RandomRotation([-5, 5], generator=generator),
        RandomSpatialJitter(1, generator=generator),
    ]:
        manual = stage(manual)
    assert torch.equal(robustness(x), manual)


def _render_once(seed: int, use_generator: bool) -> torch.Tensor:
    if use_generator:
        generator = torch.Generator().manual_seed(seed)
        image = NaturalImage((32, 32), batch=2, generator=generator)
        robustness = TransformationRobustness(generator=generator)
    else:
        torch.manual_seed(seed)
        image = NaturalImage((32, 32), batch=2)
        robustness = TransformationRobustness()
    return torch.cat([robustness(image()).flatten() for _ in range(3)])


@pytest.mark.parametrize("use_generator", [True, False])
def test_same_seed_gives_bitwise_equal_transformed_images(use_generator):
    first = _render_once(7, use_generator)
    assert torch.equal(first, _render_once(7, use_generator))
    assert not torch.equal(first, _render_once(8, use_generator))


def test_validation():
    with pytest.raises(ValueError, match="4-D"):
        TransformationRobustness()(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="padding_transform"):
        TransformationRobustness(padding_transform=3)


def test_torch_compile_natural_image_and_robustness():
    """Dynamo graph capture of the whole input side.

    The inductor backend also works (checked by hand: about a minute of C++ compilation on two
    CPU cores, too slow for this suite).
    """
    torch._dynamo.reset()
    image = NaturalImage((16, 16), generator=torch.Generator().manual_seed(0))
    robustness = TransformationRobustness(
        translate=[2], scale=[1.0], degrees=[0, 10], generator=torch.Generator().manual_seed(0)
    )

    def render() -> torch.Tensor:
        return robustness(image())

    compiled = torch.compile(render, backend="eager")
    out = compiled()
    assert out.shape == (1, 3, 20, 20)
    out.mean().backward()
    assert image.parameterization.fourier_coeffs.grad is not None
    expected_generator = torch.Generator().manual_seed(0)
    eager_robustness = TransformationRobustness(
        translate=[2], scale=[1.0], degrees=[0, 10], generator=expected_generator
    )
    torch.testing.assert_close(out, eager_robustness(image()))
