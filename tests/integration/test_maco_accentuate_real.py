"""MACO and feature accentuation on the real EfficientNet-Lite0 with real photos (offline).

Needs optim-models (offline ImageNet weights) and optim-dataset, plus scikit-image and
scikit-learn for the photos. Target: channel 11 of ``_blocks.5._expand_relu``, a unit that a
random-phase MACO image barely drives (mean activation about 0.05).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import optim as opt

pytest.importorskip("optim.models")
pytest.importorskip("optim.dataset")
skimage_data = pytest.importorskip("skimage.data")
sklearn_datasets = pytest.importorskip("sklearn.datasets")

pytestmark = pytest.mark.slow

LAYER = "_blocks.5._expand_relu"
CHANNEL = 11
SIZE = 128


@pytest.fixture(scope="module")
def model():
    from optim.models import efficientnet_lite0

    return efficientnet_lite0(pretrained=True).eval()


@pytest.fixture(scope="module")
def photo_spectrum() -> torch.Tensor:
    photos = [getattr(skimage_data, n)() for n in ("chelsea", "coffee", "astronaut", "rocket")]
    photos += list(sklearn_datasets.load_sample_images().images)
    loader = opt.dataset.array_image_loader(photos, size=SIZE, batch_size=6)
    return opt.dataset.dataset_magnitude_spectrum(loader, size=SIZE)


def _target_mean(model, image: torch.Tensor) -> float:
    with torch.no_grad():
        activation = opt.collect_activations(model, LAYER, image.reshape(1, 3, SIZE, SIZE))
    return float(activation[LAYER][0, CHANNEL].mean())


def _rms_distance(image: torch.Tensor, seed: torch.Tensor) -> float:
    return float((image.reshape(seed.shape) - seed).pow(2).mean().sqrt())


def test_maco_with_the_photo_spectrum_raises_the_target_tenfold(model, photo_spectrum):
    torch.manual_seed(0)
    maco = opt.images.MACOImage(SIZE, spectrum=photo_spectrum)
    image = opt.images.NaturalImage(parameterization=maco)
    before = _target_mean(model, image().detach())
    objective = opt.loss.ChannelActivation(LAYER, CHANNEL)
    optimization = opt.InputOptimization(model, objective, image)
    optimization.optimize(opt.optimization.n_steps(64, show_progress=False), lr=0.05)
    after = _target_mean(model, image().detach())
    assert before > 0
    assert after >= 10 * before, f"target went from {before:.4f} to {after:.4f}"

    # The magnitude stays the photos' spectrum (up to MACO's fixed unit-std scale, DC removed).
    pixels = maco().detach().double().numpy()
    amplitude = np.abs(np.fft.rfft2(pixels, norm="ortho"))[0]
    given = photo_spectrum.double().numpy().copy()
    given[:, 0, 0] = 0.0
    scale = (amplitude * given).sum() / (given**2).sum()
    # float32 irfft2 is off by at most about log2(H W) u of its output's L2 norm (u = eps / 2;
    # orthonormal, so that is the image's norm), and one bin by at most all of it; the
    # magnitude is the given spectrum rounded to float32 (u), with mirrored bins averaged
    # (their float32 difference is within the same FFT bound of the spectrum's norm, sqrt(2)
    # times the half spectrum's). Doubled (eps, not u); absolute, as bins can be tiny.
    eps = torch.finfo(torch.float32).eps
    image_norm = np.sqrt((pixels**2).sum(axis=(-2, -1))).max()
    spectrum_norm = np.sqrt(2) * np.sqrt((given**2).sum(axis=(-2, -1))).max()
    bound = np.log2(SIZE * SIZE) * eps * (image_norm + scale * spectrum_norm) + eps * scale * given
    assert (np.abs(amplitude - scale * given) <= bound).all()


def test_accentuation_on_chelsea_stays_closer_to_the_seed_than_a_render(model):
    photo = torch.from_numpy(skimage_data.chelsea()).permute(2, 0, 1).float() / 255
    seed = opt.dataset.resize_and_crop(photo, SIZE)
    seed_target = _target_mean(model, seed)

    torch.manual_seed(0)
    accentuated, history = opt.accentuate(
        model,
        LAYER,
        seed,
        CHANNEL,
        regularization_layer="_blocks.1",
        regularization_weight=5.0,
        steps=32,
        show_progress=False,
    )
    torch.manual_seed(0)
    render = opt.images.NaturalImage((SIZE, SIZE))
    objective = opt.loss.ChannelActivation(LAYER, CHANNEL)
    opt.InputOptimization(model, objective, render).optimize(
        opt.optimization.n_steps(32, show_progress=False)
    )
    with torch.no_grad():
        rendered = render()

    accentuated_distance = _rms_distance(accentuated, seed)
    render_distance = _rms_distance(rendered, seed)
    assert _target_mean(model, accentuated) > seed_target
    assert history["target"][-1] > history["target"][0]
    assert accentuated_distance < render_distance, (accentuated_distance, render_distance)
