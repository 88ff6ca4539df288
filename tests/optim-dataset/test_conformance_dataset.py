"""SPEC §2.9 (dataset), row by row.

Oracles: numpy's ``np.cov`` and SVD, hand-written gradient x activation formulas, inputs that
encode their own pixel positions, and the values printed in the SPEC. Deliberate differences
(the package README's "Differences from captum.optim") are asserted as our behaviour, with
the reason.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import optim as opt
from optim.dataset import (
    attribute_spatial_position,
    capture_activation_samples,
    consolidate_samples,
    cov_matrix_to_klt,
    dataset_cov_matrix,
    dataset_klt_matrix,
    image_cov,
)

SPEC_ROWS: list[str] = [
    "optim.dataset.image_cov",
    "optim.dataset.dataset_cov_matrix",
    "optim.dataset.cov_matrix_to_klt",
    "optim.dataset.dataset_klt_matrix",
    "optim.dataset.capture_activation_samples",
    "optim.dataset.consolidate_samples",
    "optim.dataset.attribute_spatial_position",
]

F64_EPS = np.finfo(np.float64).eps
F32_EPS = np.finfo(np.float32).eps


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _np_image_covs(x: np.ndarray) -> np.ndarray:
    """Per-image covariance of the H*W pixels' colours (unbiased): [N, C, C]."""
    return np.stack([np.cov(image.reshape(image.shape[0], -1)) for image in x])


# ---- signatures --------------------------------------------------------------------------

_CPU = torch.device("cpu")
_DEFAULTS = [
    (
        "optim.dataset.dataset_cov_matrix",
        dataset_cov_matrix,
        {"show_progress": False, "device": _CPU},
    ),
    ("optim.dataset.cov_matrix_to_klt", cov_matrix_to_klt, {"normalize": False, "epsilon": 1e-10}),
    (
        "optim.dataset.dataset_klt_matrix",
        dataset_klt_matrix,
        {"normalize": False, "show_progress": False, "device": _CPU},
    ),
    (
        "optim.dataset.capture_activation_samples",
        capture_activation_samples,
        {
            "target_names": None,
            "sample_dir": "",
            "num_images": None,
            "samples_per_image": 1,
            "input_device": _CPU,
            "collect_attributions": False,
            "attr_model": None,
            "attr_targets": None,
            "logit_target": None,
            "show_progress": False,
        },
    ),
    (  # deliberate: dim=0, the samples dim of the [N, C] files (captum's default was 1)
        "optim.dataset.consolidate_samples",
        consolidate_samples,
        {"sample_basename": "", "dim": 0, "num_files": None, "show_progress": False},
    ),
]


@pytest.mark.spec_row(*{row for row, _, _ in _DEFAULTS})
@pytest.mark.parametrize(
    ("row", "function", "defaults"), _DEFAULTS, ids=[r for r, _, _ in _DEFAULTS]
)
def test_signature_defaults(row, function, defaults):
    parameters = inspect.signature(function).parameters
    got = {name: parameters[name].default for name in defaults}
    # a device default may be written "cpu" or torch.device("cpu")
    got = {k: torch.device(v) if defaults[k] is _CPU else v for k, v in got.items()}
    assert got == defaults, row


# ---- covariance and KLT ------------------------------------------------------------------


@pytest.mark.spec_row("optim.dataset.image_cov")
def test_image_cov_is_the_sum_of_per_image_pixel_covariances():
    x = _rand(3, 4, 5, 6)
    got = image_cov(x)
    assert got.shape == (4, 4)
    # 30 pixels per covariance, 3 images summed: rounding well below 64 eps of the scale.
    np.testing.assert_allclose(got.numpy(), _np_image_covs(x.numpy()).sum(0), atol=64 * F64_EPS)


@pytest.mark.spec_row("optim.dataset.image_cov")
def test_image_cov_of_constant_channels_is_zero():
    # deliberate (SPEC §6, "image_cov reshapes without a permute"): constant channels do not
    # vary, so their covariance is 0. The SPEC's reference [[0.0073, 0.0067, ...], ...] is
    # x.reshape(B, -1, C) without the permute, which mixes pixels and channels:
    x = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert image_cov(x).abs().max().item() == 0.0
    mixed = x.numpy().reshape(1, -1, 3)[0]
    spec = [[0.0073, 0.0067, 0.0067], [0.0067, 0.0067, 0.0067], [0.0067, 0.0067, 0.0073]]
    np.testing.assert_allclose(np.cov(mixed.T), spec, rtol=0, atol=5e-5)  # printed to 4 places


@pytest.mark.spec_row("optim.dataset.dataset_cov_matrix")
def test_dataset_cov_matrix_is_the_mean_image_covariance(capsys):
    images = _rand(5, 3, 4, 4, seed=1)
    loader = DataLoader(TensorDataset(images.float(), torch.zeros(5)), batch_size=2)
    got = dataset_cov_matrix(loader, show_progress=True)
    expected = _np_image_covs(images.float().double().numpy()).mean(0)
    assert got.dtype == torch.float64  # accumulated in float64 from the float32 images
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=64 * F64_EPS)
    assert " images" in capsys.readouterr().err  # row: tqdm, unit " images"
    # deliberate: the divisor is the number of images seen, not len(loader.dataset) (which
    # drop_last makes wrong: 4 images seen of 5).
    dropping = DataLoader(TensorDataset(images), batch_size=2, drop_last=True)
    expected = _np_image_covs(images[:4].numpy()).mean(0)
    np.testing.assert_allclose(dataset_cov_matrix(dropping).numpy(), expected, atol=64 * F64_EPS)


_SPEC_COV = [[0.0477, 0.0415, 0.0280], [0.0415, 0.0425, 0.0333], [0.0280, 0.0333, 0.0419]]
_SPEC_KLT = [[-0.2036, 0.0750, 0.0249], [-0.2024, 0.0158, -0.0358], [-0.1749, -0.1056, 0.0124]]


@pytest.mark.spec_row("optim.dataset.cov_matrix_to_klt")
def test_cov_matrix_to_klt_spec_reference():
    got = cov_matrix_to_klt(torch.tensor(_SPEC_COV, dtype=torch.float64)).numpy()
    # deliberate: column signs are fixed so that the first row is non-negative (Lucid's
    # convention); the SPEC's SVD returned the first column negated.
    expected = np.array(_SPEC_KLT) * [-1.0, 1.0, 1.0]
    np.testing.assert_allclose(got, expected, rtol=0, atol=5e-5)  # printed to 4 places


@pytest.mark.spec_row("optim.dataset.cov_matrix_to_klt")
@pytest.mark.parametrize("epsilon", [1e-10, 1e-2])
def test_cov_matrix_to_klt_is_u_sqrt_s_plus_epsilon(epsilon):
    a = _rand(3, 3, seed=2).numpy()
    cov = a @ a.T
    got = cov_matrix_to_klt(torch.from_numpy(cov), epsilon=epsilon).numpy()
    u, s, _ = np.linalg.svd(cov)
    expected = u * np.sqrt(s + epsilon)
    signs = np.sign(got[0] * expected[0])  # an SVD's column signs are arbitrary
    np.testing.assert_allclose(got, expected * signs, rtol=0, atol=1e3 * F64_EPS)
    # deliberate (SPEC §6, "cov_matrix_to_klt's normalize is a no-op"): normalize=True
    # divides by the largest column norm, as ToRGB's "klt" matrix is scaled.
    normalized = cov_matrix_to_klt(torch.from_numpy(cov), normalize=True, epsilon=epsilon)
    norms = np.linalg.norm(expected, axis=0)
    np.testing.assert_allclose(
        normalized.numpy(), expected * signs / norms.max(), rtol=0, atol=1e3 * F64_EPS
    )


@pytest.mark.spec_row("optim.dataset.dataset_klt_matrix")
def test_dataset_klt_matrix_recolours_white_noise_with_the_dataset_covariance():
    images = _rand(4, 3, 6, 6, seed=3)
    loader = DataLoader(TensorDataset(images, torch.zeros(4)), batch_size=3)
    klt = dataset_klt_matrix(loader)
    assert klt.shape == (3, 3) and klt.dtype == torch.float32
    cov = _np_image_covs(images.numpy()).mean(0)  # row: cov_matrix_to_klt(dataset_cov_matrix)
    # klt is float32: klt @ klt.T is off by about eps32 x (a diagonal entry, < 1 here).
    np.testing.assert_allclose(klt.double().numpy() @ klt.double().numpy().T, cov, atol=F32_EPS)
    # row: the result can be passed to ToRGB, which maps decorrelated colours z to klt @ z
    z = _rand(1, 3, 2, 2, seed=4).float()
    rgb = opt.transforms.ToRGB(transform=klt)(z)
    expected = np.einsum("ij,njhw->nihw", klt.numpy(), z.numpy())
    np.testing.assert_allclose(rgb.numpy(), expected, rtol=0, atol=8 * F32_EPS)


# ---- activation samples ------------------------------------------------------------------


def _position_images(count: int, size: int) -> torch.Tensor:
    """Images whose channels hold each pixel's row, column and image index."""
    rows = torch.arange(size, dtype=torch.float64).view(size, 1).expand(size, size)
    images = torch.stack([rows, rows.T, torch.zeros(size, size, dtype=torch.float64)])
    images = images.expand(count, 3, size, size).clone()
    images[:, 2] = torch.arange(count, dtype=torch.float64).view(count, 1, 1)
    return images


def _probe_model(size: int, logits: int) -> nn.Sequential:
    """An identity target "0" (its activations are the input) and a linear head "2"."""
    model = nn.Sequential(nn.Identity(), nn.Flatten(), nn.Linear(3 * size * size, logits))
    with torch.no_grad():
        generator = torch.Generator().manual_seed(5)
        model[2].weight.copy_(torch.randn(model[2].weight.shape, generator=generator))
    return model.double().eval()


@pytest.mark.spec_row(
    "optim.dataset.capture_activation_samples", "optim.dataset.consolidate_samples"
)
def test_capture_samples_interior_positions_and_their_attributions(tmp_path):
    size, per_image = 5, 3
    images = _position_images(5, size)
    loader = DataLoader(TensorDataset(images, torch.zeros(5)), batch_size=2)  # batches 2, 2, 1
    model = _probe_model(size, logits=4)
    paths = capture_activation_samples(
        loader,
        model,
        ["0"],
        target_names=["probe"],
        sample_dir=tmp_path,
        samples_per_image=per_image,
        collect_attributions=True,
        logit_target="2",
        generator=torch.Generator().manual_seed(6),
    )
    names = [f"probe_{kind}_{b}.pt" for b in range(3) for kind in ("activations", "attributions")]
    assert [p.name for p in paths] == names  # row: <name>_activations_<batch>.pt, ...
    samples = consolidate_samples(tmp_path, "probe_activations")
    attributions = consolidate_samples(tmp_path, "probe_attributions")
    assert samples.shape == (5 * per_image, 3) and attributions.shape == (5 * per_image, 4)
    ys, xs, image = samples.numpy().T
    np.testing.assert_array_equal(image, np.repeat(np.arange(5), per_image))  # image-major
    # row: positions drawn in [1, H - 2] (here 1..3), not all the same
    assert set(ys) <= {1, 2, 3} and set(xs) <= {1, 2, 3} and len(set(zip(ys, xs))) > 1
    # Gradient x activation at the sampled position of the linear head: W[:, pixel] @ a.
    w = model[2].weight.detach().numpy().reshape(4, 3, size, size)
    expected = np.stack(
        [w[:, :, int(y), int(x)] @ samples.numpy()[i] for i, (y, x) in enumerate(zip(ys, xs))]
    )
    np.testing.assert_allclose(attributions.numpy(), expected, rtol=0, atol=1e3 * F64_EPS)


@pytest.mark.spec_row("optim.dataset.capture_activation_samples")
def test_capture_stops_after_num_images(tmp_path):
    images = _position_images(5, 4)
    model = _probe_model(4, logits=2)
    paths = capture_activation_samples(
        [images[:2], images[2:]], model, "0", num_images=3, sample_dir=tmp_path
    )
    assert [p.name for p in paths] == ["0_activations_0.pt", "0_activations_1.pt"]
    assert consolidate_samples(tmp_path).shape == (3, 3)


@pytest.mark.spec_row("optim.dataset.consolidate_samples")
def test_consolidate_concatenates_in_batch_order(tmp_path):
    for n in range(12):  # batch 10 sorts before 2 alphabetically
        torch.save(torch.full((1, 2), float(n)), tmp_path / f"acts_{n}.pt")
    torch.save([torch.zeros(1, 2)], tmp_path / "acts_other_0.pt")  # not an exact basename match
    # deliberate: numeric batch order (captum: os.listdir order) and exact basenames
    got = consolidate_samples(tmp_path, "acts")
    np.testing.assert_array_equal(got[:, 0].numpy(), np.arange(12.0))
    assert consolidate_samples(tmp_path, "acts", num_files=3)[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert consolidate_samples(tmp_path, "acts", dim=1, num_files=2).shape == (1, 4)
    # row: "torch.cat of the loaded lists": a file may hold a list of tensors
    torch.save([torch.ones(1, 2), 2 * torch.ones(1, 2)], tmp_path / "lists_0.pt")
    assert consolidate_samples(tmp_path, "lists")[:, 0].tolist() == [1.0, 2.0]


@pytest.mark.spec_row("optim.dataset.attribute_spatial_position")
def test_attribute_spatial_position_is_jacobian_times_masked_activation():
    # Not a module function in captum (its atlas notebook defines it); a library function
    # here. Head: logits = (W a)^2, so d logits / d a = 2 (W a) W and the attribution of the
    # masked activations is 2 (W a) * (W (a * mask)).
    activ = _rand(2, 3, 4, 4, seed=7).requires_grad_(True)
    w = torch.randn(5, 48, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    logits = (activ.flatten(1) @ w.T) ** 2
    mask = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    mask[0, 0, 1, 2] = mask[1, 0, 3, 0] = 1
    got = attribute_spatial_position(activ, logits, mask)
    a, m, wn = activ.detach().numpy().reshape(2, 48), (activ * mask).detach().numpy(), w.numpy()
    expected = 2 * (a @ wn.T) * (m.reshape(2, 48) @ wn.T)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e3 * F64_EPS, atol=1e3 * F64_EPS)
    with pytest.raises(ValueError, match="does not broadcast"):
        attribute_spatial_position(activ, logits, torch.ones(3, 1, 4, 4))


def test_every_spec_row_has_a_conformance_test(spec_row_report):
    untested, unresolvable = spec_row_report
    assert untested == [], f"SPEC rows without a conformance test: {untested}"
    assert unresolvable == [], f"SPEC rows that do not import: {unresolvable}"
