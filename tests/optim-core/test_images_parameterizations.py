"""PixelImage, LaplacianImage, SimpleTensorParameterization, SharedImage, StackImage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optim.images import (
    ImageParameterization,
    InputParameterization,
    LaplacianImage,
    PixelImage,
    SharedImage,
    SimpleTensorParameterization,
    StackImage,
)


def test_base_class_forward_raises():
    with pytest.raises(NotImplementedError, match="must implement forward"):
        InputParameterization()()
    assert issubclass(PixelImage, ImageParameterization)


def test_pixel_image_random_init_is_seeded_randn():
    image = PixelImage((4, 5), channels=2, batch=3, generator=torch.Generator().manual_seed(0))
    expected = torch.randn(3, 2, 4, 5, generator=torch.Generator().manual_seed(0)) / 10 + 0.5
    assert torch.equal(image().detach(), expected)


def test_pixel_image_init_chw_is_unsqueezed():
    init = torch.rand(3, 4, 4)
    image = PixelImage(init=init)
    assert torch.equal(image().detach(), init.unsqueeze(0))
    init.add_(1)  # the parameter is a copy
    assert not torch.equal(image().detach(), init.unsqueeze(0))


def test_pixel_image_requires_size_without_init():
    with pytest.raises(ValueError, match="needs size"):
        PixelImage()


def test_laplacian_matches_numpy_pyramid():
    image = LaplacianImage(
        (8, 12), channels=2, scale_list=[1.0, 2.0, 4.0], power=0.5,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    levels = [p.detach().double().numpy() for p in image.tensor_params]
    assert [lv.shape for lv in levels] == [(1, 2, 8, 12), (1, 2, 4, 6), (1, 2, 2, 3)]
    expected, magnitude = 0.5, 0.5
    for level, s in zip(levels, [1, 2, 4]):
        weight = s**0.5 / 4**0.5
        expected = expected + (level * weight).repeat(s, axis=2).repeat(s, axis=3)
        magnitude = magnitude + np.abs(level * weight).repeat(s, axis=2).repeat(s, axis=3)
    # float32: 3 products (the weight rounded to float32 too) and 3 additions in any order,
    # each off by at most u = eps / 2 of the terms: 4 eps of the terms' sum bounds it, even
    # where the pixel itself is near 0 (so no rtol).
    bound = 4 * torch.finfo(torch.float32).eps * magnitude
    assert (np.abs(image().detach().double().numpy() - expected) <= bound).all()


def test_laplacian_default_scales_and_divisibility_error():
    assert LaplacianImage((64, 32))().shape == (1, 3, 64, 32)
    with pytest.raises(ValueError, match="divisible by every scale"):
        LaplacianImage((100, 100))


def test_laplacian_init_levels_are_downsampled_init_over_10():
    init = torch.ones(1, 3, 8, 8)
    image = LaplacianImage(init=init, scale_list=[1.0, 2.0])
    for level in image.tensor_params:
        torch.testing.assert_close(level.detach(), torch.full_like(level, 0.1))


def test_simple_tensor_buffer_or_parameter():
    fixed = SimpleTensorParameterization(torch.zeros(1, 3, 2, 2))
    assert list(fixed.parameters()) == [] and fixed().shape == (1, 3, 2, 2)
    trainable = SimpleTensorParameterization(torch.zeros(1, 3, 2, 2, requires_grad=True))
    assert len(list(trainable.parameters())) == 1


def test_shared_image_adds_resized_shared_tensor_to_every_item():
    inner = SimpleTensorParameterization(torch.zeros(2, 3, 8, 8))
    shared = SharedImage([(3, 4, 4)], inner, generator=torch.Generator().manual_seed(0))
    out = shared().detach()
    assert out.shape == (2, 3, 8, 8)
    assert torch.equal(out[0], out[1])
    param = shared.shared_init[0].tensor.detach()
    expected = torch.nn.functional.interpolate(param, size=(8, 8), mode="bilinear")
    torch.testing.assert_close(out[:1], expected)


def test_shared_image_channel_and_batch_resize_keep_constants():
    inner = SimpleTensorParameterization(torch.zeros(3, 4, 6, 6))
    shared = SharedImage([(1, 1, 2, 2), (2, 2, 3, 3)], inner)
    with torch.no_grad():
        shared.shared_init[0].tensor.fill_(1.0)
        shared.shared_init[1].tensor.fill_(2.0)
    torch.testing.assert_close(shared(), torch.full((3, 4, 6, 6), 3.0))


def test_shared_image_offset_matches_numpy():
    inner = SimpleTensorParameterization(torch.zeros(1, 1, 4, 4, dtype=torch.float64))
    shared = SharedImage([(1, 1, 4, 4)], inner, offset=(1, 0))
    with torch.no_grad():
        shared.shared_init[0].tensor.copy_(torch.arange(16.0).view(1, 1, 4, 4))
    param = shared.shared_init[0].tensor.detach().double().numpy()
    padded = np.pad(param, ((0, 0), (0, 0), (1, 1), (0, 0)), mode="symmetric")
    expected = np.roll(padded, 1, axis=2)[:, :, :4, :4]
    np.testing.assert_allclose(shared().detach().numpy(), expected)


def test_shared_image_validation():
    with pytest.raises(TypeError, match="parameterization"):
        SharedImage([(1, 3, 2, 2)], None)
    with pytest.raises(ValueError, match="2 to 4"):
        SharedImage([(2,)], PixelImage((4, 4)))
    with pytest.raises(ValueError, match="one offset per"):
        SharedImage([(1, 3, 2, 2)], PixelImage((4, 4)), offset=[(1,), (2,)])


def test_stack_image_concatenates_modules_and_tensors():
    fixed = torch.rand(2, 3, 4, 4)
    stack = StackImage([PixelImage((4, 4)), fixed])
    out = stack()
    assert out.shape == (3, 3, 4, 4)
    assert torch.equal(out[1:], fixed)
    assert len(list(stack.parameters())) == 1


def test_stack_image_validation():
    with pytest.raises(ValueError, match="match outside dim"):
        StackImage([PixelImage((4, 4)), PixelImage((5, 5))])()
    with pytest.raises(TypeError, match="modules and tensors"):
        StackImage([3])
    with pytest.raises(ValueError, match="at least one"):
        StackImage([])
