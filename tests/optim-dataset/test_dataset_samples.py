"""capture_activation_samples / consolidate_samples on a tiny model with hand-checked oracles."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from optim.dataset import capture_activation_samples, consolidate_samples


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 5, 3)
            self.fc = nn.Linear(5, 4)
        self.act = nn.Tanh()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.act(self.conv(x))).flatten(1))


@pytest.fixture
def model() -> TinyNet:
    return TinyNet().eval()


def _images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 9, 9, generator=torch.Generator().manual_seed(seed))


def _rounding_bound(model: TinyNet, images: torch.Tensor) -> float:
    """How far two float32 evaluations of tanh(conv(x)) can be apart, in any summation order.

    Each conv output sums 27 products and the bias: off by at most 28 u times the sum of the
    terms' absolute values (u = eps / 2), i.e. the conv with |weights| on |x|; tanh (slope at
    most 1) adds a few u. Doubled (eps, not u) for the margin: one batch size against another
    may use other kernels, so the two evaluations need not be bitwise equal.
    """
    with torch.no_grad():
        magnitude = torch.nn.functional.conv2d(
            images.abs(), model.conv.weight.abs(), model.conv.bias.abs()
        )
    return (28 + 4) * torch.finfo(torch.float32).eps * magnitude.max().item()


def _position_of(
    vector: torch.Tensor, activation: torch.Tensor, tolerance: float
) -> tuple[int, int]:
    """The (y, x) where a [C, H, W] activation map holds ``vector``."""
    match = (activation - vector[:, None, None]).abs().amax(dim=0) <= tolerance
    positions = match.nonzero().tolist()
    assert len(positions) == 1, "each saved vector must come from exactly one position"
    return tuple(positions[0])


def test_samples_are_activation_vectors_at_interior_positions(model, tmp_path):
    images = _images(5)
    loader = [images[:3], images[3:]]
    paths = capture_activation_samples(
        loader,
        model,
        ["act"],
        sample_dir=tmp_path,
        samples_per_image=2,
        generator=torch.Generator().manual_seed(1),
    )
    assert [p.name for p in paths] == ["act_activations_0.pt", "act_activations_1.pt"]
    samples = consolidate_samples(tmp_path, "act_activations")
    assert samples.shape == (10, 5)
    activation = torch.tanh(model.conv(images))  # 7x7 map
    tolerance = _rounding_bound(model, images)
    for i, vector in enumerate(samples):
        y, x = _position_of(vector, activation[i // 2], tolerance)  # image-major order
        assert 1 <= y <= 5 and 1 <= x <= 5


def test_sampling_is_reproducible_with_a_generator(model, tmp_path):
    def run(folder):
        capture_activation_samples(
            [_images(4)],
            model,
            [model.conv],
            sample_dir=folder,
            generator=torch.Generator().manual_seed(7),
        )
        return consolidate_samples(folder, "conv_activations")

    assert torch.equal(run(tmp_path / "a"), run(tmp_path / "b"))


def test_attributions_equal_gradient_times_activation_at_the_position(model, tmp_path):
    images = _images(3, seed=2)
    capture_activation_samples(
        [images],
        model,
        ["act"],
        sample_dir=tmp_path,
        samples_per_image=2,
        collect_attributions=True,
        logit_target="fc",
    )
    samples = consolidate_samples(tmp_path, "act_activations")
    attributions = consolidate_samples(tmp_path, "act_attributions")
    assert attributions.shape == (6, 4)
    for i in range(6):
        image = images[i // 2 : i // 2 + 1]
        activation = torch.tanh(model.conv(image)).detach().requires_grad_(True)
        logits = model.fc(model.pool(activation).flatten(1))[0]
        tolerance = _rounding_bound(model, image)
        y, x = _position_of(samples[i], activation[0].detach(), tolerance)
        grads = torch.stack(
            [torch.autograd.grad(logits[k], activation, retain_graph=True)[0] for k in range(4)]
        )[:, 0, :, y, x]  # [4 logits, 5 channels]
        vector = activation.detach()[0, :, y, x]
        expected = (grads * vector).sum(dim=1)
        # The activations the attributions were computed from (a batch of 3) may differ from
        # these (a batch of 1) by `tolerance`; the gradients carry that over, and the 5-term
        # sums of products add 6 eps of their terms.
        eps = torch.finfo(torch.float32).eps
        bound = grads.abs().sum(dim=1) * tolerance + 6 * eps * (grads * vector).abs().sum(dim=1)
        assert ((attributions[i] - expected).abs() <= bound).all()


def test_num_images_stops_early_and_names_default_to_module_names(model, tmp_path):
    paths = capture_activation_samples(
        [_images(3), _images(3, 1), _images(3, 2)],
        model,
        [model.conv, "fc"],
        sample_dir=tmp_path,
        num_images=4,
    )
    assert sorted(p.name for p in paths) == [
        "conv_activations_0.pt",
        "conv_activations_1.pt",
        "fc_activations_0.pt",
        "fc_activations_1.pt",
    ]
    assert consolidate_samples(tmp_path, "fc_activations").shape == (4, 4)  # 2D output


def test_capture_validates_its_arguments(model, tmp_path):
    with pytest.raises(ValueError, match="no submodule named 'conf'"):
        capture_activation_samples([_images(1)], model, ["conf"], sample_dir=tmp_path)
    with pytest.raises(ValueError, match="logit_target"):
        capture_activation_samples(
            [_images(1)], model, ["act"], sample_dir=tmp_path, collect_attributions=True
        )
    with pytest.raises(ValueError, match="one name per target"):
        capture_activation_samples(
            [_images(1)], model, ["act"], target_names=["a", "b"], sample_dir=tmp_path
        )
    with pytest.warns(UserWarning, match="training mode"):
        capture_activation_samples([_images(1)], model.train(), ["act"], sample_dir=tmp_path)


def test_consolidate_orders_batches_numerically_and_matches_basenames_exactly(tmp_path):
    for batch in range(12):
        torch.save(torch.full((1, 2), float(batch)), tmp_path / f"mixed4c_activations_{batch}.pt")
    torch.save(torch.zeros(1, 2), tmp_path / "mixed4c_relu_activations_0.pt")
    samples = consolidate_samples(tmp_path, "mixed4c_activations")
    assert samples[:, 0].tolist() == [float(b) for b in range(12)]  # 10 after 9, not after 1
    assert consolidate_samples(tmp_path, "mixed4c_activations", num_files=3).shape == (3, 2)
    with pytest.raises(ValueError, match="several kinds"):
        consolidate_samples(tmp_path)
    with pytest.raises(FileNotFoundError, match="sample_basename"):
        consolidate_samples(tmp_path, "mixed5b_activations")
