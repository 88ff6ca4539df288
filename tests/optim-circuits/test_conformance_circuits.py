"""SPEC §2.7 (circuits), row by row.

Oracles: kernels of stacked layers composed by hand in numpy (on a linear path the expanded
weights are the composed kernel, placed under target2's centre position). The SPEC's
InceptionV1 shapes need optim-models, which this package's session does not install: they
are checked in tests/integration/test_circuits_inception.py (random weights; the reference's
top-10 connections need pretrained weights, which the tests do not download).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn

from optim.circuits import extract_expanded_weights
from optim.transforms import center_crop

SPEC_ROWS: list[str] = ["optim.circuits.extract_expanded_weights"]

F64_EPS = np.finfo(np.float64).eps


def _seeded(model: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model.eval()


def _composed_kernel(w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """The kernel of conv2 after conv1 (cross-correlations, no padding):
    ``K[i, j, u, v] = sum_k sum_{a, b} w2[i, k, a, b] * w1[k, j, u - a, v - b]``."""
    out_ch, _, h2, w2_ = w2.shape
    _, in_ch, h1, w1_ = w1.shape
    kernel = np.zeros((out_ch, in_ch, h1 + h2 - 1, w1_ + w2_ - 1))
    for a in range(h2):
        for b in range(w2_):
            for u in range(h1):
                for v in range(w1_):
                    kernel[:, :, a + u, b + v] += w2[:, :, a, b] @ w1[:, :, u, v]
    return kernel


@pytest.mark.spec_row("optim.circuits.extract_expanded_weights")
def test_signature_defaults():
    parameters = inspect.signature(extract_expanded_weights).parameters
    # deliberate: model_input=None stands for torch.zeros(1, 3, 224, 224) and crop_func=None
    # for center_crop (no tensor built at import and shared by every call; optim.transforms
    # imported on use). The next test checks that the None defaults behave as the SPEC's.
    defaults = {name: parameters[name].default for name in ("crop_shape", "model_input")}
    assert defaults == {"crop_shape": None, "model_input": None}
    assert parameters["crop_func"].default is None


@pytest.mark.spec_row("optim.circuits.extract_expanded_weights")
def test_default_input_is_zeros_1x3x224x224_and_default_crop_is_center_crop():
    model = _seeded(nn.Sequential(nn.Conv2d(3, 2, 1), nn.Conv2d(2, 2, 1)), seed=0).float()
    seen = []
    model[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    full = extract_expanded_weights(model, model[0], model[1])
    assert seen and all(x.shape == (1, 3, 224, 224) and not x.any() for x in seen)
    assert full.shape == (2, 2, 224, 224)
    cropped = extract_expanded_weights(model, model[0], model[1], crop_shape=3)
    torch.testing.assert_close(cropped, center_crop(full, 3), rtol=0, atol=0)


@pytest.mark.spec_row("optim.circuits.extract_expanded_weights")
@pytest.mark.parametrize("size", [8, 9])  # target2's output is 5x5 (centre 2) or 6x6 (centre 2)
def test_two_stacked_convs_give_their_composed_kernel_at_the_centre(size):
    # target1 is the input (an Identity), target2 the second conv: [C2, C1, H1, W1]
    model = _seeded(
        nn.Sequential(nn.Identity(), nn.Conv2d(2, 3, 3), nn.Conv2d(3, 4, 2)), seed=1
    ).double()
    weights = extract_expanded_weights(
        model, model[0], model[2], model_input=torch.zeros(1, 2, size, size, dtype=torch.float64)
    )
    w1, w2 = model[1].weight.detach().numpy(), model[2].weight.detach().numpy()
    out = size - 3  # target2's output size
    centre = (out - 1) // 2  # row: ((H - 1) // 2, (W - 1) // 2)
    expected, magnitude = np.zeros((2, 4, 2, size, size))
    window = (..., slice(centre, centre + 4), slice(centre, centre + 4))
    expected[window] = _composed_kernel(w1, w2)
    magnitude[window] = _composed_kernel(np.abs(w1), np.abs(w2))
    # Backward through conv2 sums 4 * 2 * 2 terms per entry, through conv1 3 * 3 * 3: each
    # sum is off by at most (terms) * eps * (sum of |terms|); a factor 2 over that bound.
    bound = 2 * (16 + 27) * F64_EPS * magnitude
    assert (np.abs(weights.numpy() - expected) <= bound).all()


@pytest.mark.spec_row("optim.circuits.extract_expanded_weights")
def test_a_2d_target2_uses_its_whole_output():
    # row: "(or the whole 2D output)": two linear layers give the second one's weight matrix
    model = _seeded(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), seed=2).double()
    weights = extract_expanded_weights(
        model, "0", "1", model_input=torch.zeros(1, 3, dtype=torch.float64)
    )
    np.testing.assert_array_equal(weights.numpy(), model[1].weight.detach().numpy())


@pytest.mark.spec_row("optim.circuits.extract_expanded_weights")
def test_a_batch_of_several_inputs_is_refused():
    # deliberate: captum concatenated B * C2 rows for a batch; one item is enough on a linear
    # path, so a larger batch is a ValueError that says so.
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Conv2d(2, 2, 1))
    with pytest.raises(ValueError, match="batch size 1"):
        extract_expanded_weights(model, "0", "1", model_input=torch.zeros(2, 3, 4, 4))


@pytest.mark.spec_row("optim.circuits.extract_expanded_weights")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_input_moves_to_the_model_device():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Conv2d(2, 2, 1)).cuda()
    weights = extract_expanded_weights(model, "0", "1", model_input=torch.zeros(1, 3, 4, 4))
    assert weights.device.type == "cuda"


def test_every_spec_row_has_a_conformance_test(spec_row_report):
    untested, unresolvable = spec_row_report
    assert untested == [], f"SPEC rows without a conformance test: {untested}"
    assert unresolvable == [], f"SPEC rows that do not import: {unresolvable}"
