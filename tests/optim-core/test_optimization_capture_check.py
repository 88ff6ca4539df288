"""assert_step_capturable: a CUDA-graph capture's constraints checked on CPU and meta.

Each objective, image parameterization and the fused transforms must pass; each kind of
host synchronisation must be caught and located; the caller's objects must be left alone.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import optim as opt
from optim.loss import BaseLoss
from optim.optimization import HostSyncError, assert_step_capturable
from optim.optimization.graphed_step import capturing_step, simulated_capture
from optim.rendering.layer_render import _slot_images, _slots_objective
from optim.rendering.objective import layer_view

SIZE = 32


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 6, 3), nn.ReLU()).eval()


def _robustness() -> nn.Module:
    return opt.transforms.TransformationRobustness(translate=(2, 2), final_translate=1)


# Host vectors on purpose: a CPU vector copied to the device every step is what is checked.
OBJECTIVES = {
    "ChannelActivation": lambda m: opt.loss.ChannelActivation(m[3], 1),
    "ChannelActivation(batch_index)": lambda m: opt.loss.ChannelActivation(m[3], 1, batch_index=1),
    "NeuronActivation": lambda m: opt.loss.NeuronActivation(m[3], 2),
    "LayerActivation": lambda m: opt.loss.LayerActivation("3"),
    "DeepDream": lambda m: opt.loss.DeepDream(m[1]),
    "TotalVariation": lambda m: opt.loss.TotalVariation(m[1]),
    "L1": lambda m: opt.loss.L1(m[3], 0.5),
    "L2": lambda m: opt.loss.L2(m[3]),
    "L2Mean": lambda m: opt.loss.L2Mean(m[3], 1),
    "Diversity": lambda m: opt.loss.Diversity(m[3]),
    "Alignment": lambda m: opt.loss.Alignment(m[3]),
    "ActivationInterpolation": lambda m: opt.loss.ActivationInterpolation(m[3], 1, m[3], 2),
    "ActivationWeights": lambda m: opt.loss.ActivationWeights(m[3], torch.rand(6)),
    "ActivationWeights(window)": lambda m: opt.loss.ActivationWeights(
        m[3], torch.rand(6), x=3, y=3, wx=2, wy=2
    ),
    "Direction": lambda m: opt.loss.Direction(m[3], torch.rand(6), cossim_pow=2.0),
    "NeuronDirection": lambda m: opt.loss.NeuronDirection(m[3], torch.rand(6), cossim_pow=1.0),
    "AngledNeuronDirection": lambda m: opt.loss.AngledNeuronDirection(
        m[3], torch.rand(6), vec_whitened=torch.rand(6, 6)
    ),
    "TensorDirection": lambda m: opt.loss.TensorDirection(m[3], torch.rand(1, 6, 3, 3)),
    "VectorLoss": lambda m: opt.loss.VectorLoss(m[3], torch.rand(6)),
    "FacetLoss": lambda m: opt.loss.FacetLoss(torch.rand(6), m[3], m[1], torch.rand(1, 8)),
    "arithmetic": lambda m: (
        opt.loss.ChannelActivation(m[3], 1)
        - 0.1 * opt.loss.Diversity(m[3])
        + opt.loss.L1(m[1]) ** 2
    ),
}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_every_objective_is_capturable(name):
    model = _model()
    image = opt.images.NaturalImage((SIZE, SIZE), batch=3)
    assert_step_capturable(model, OBJECTIVES[name](model), image, _robustness())


IMAGES = {
    "NaturalImage": lambda: opt.images.NaturalImage((SIZE, SIZE), batch=2),
    "FFTImage": lambda: opt.images.FFTImage((SIZE, SIZE)),
    "PixelImage": lambda: opt.images.PixelImage((SIZE, SIZE)),
    "LaplacianImage": lambda: opt.images.LaplacianImage((SIZE, SIZE)),
    "MACOImage": lambda: opt.images.MACOImage((SIZE, SIZE), accumulate_transparency=True),
    "StackImage": lambda: opt.images.StackImage(
        [opt.images.NaturalImage((SIZE, SIZE)), opt.images.PixelImage((SIZE, SIZE))]
    ),
    "SimpleTensorParameterization": lambda: opt.images.SimpleTensorParameterization(
        torch.rand(1, 3, SIZE, SIZE, requires_grad=True)
    ),
}


@pytest.mark.parametrize("name", IMAGES)
def test_every_image_parameterization_is_capturable(name):
    model = _model()
    objective = opt.loss.ChannelActivation(model[3], 1)
    assert_step_capturable(model, objective, IMAGES[name](), _robustness())


def test_render_layer_batch_objective_is_capturable():
    model = _model()
    batch = [0, 3, 5]
    objective = _slots_objective(layer_view(model, "3", (SIZE, SIZE)), batch, None)
    images = _slot_images("natural_image", (SIZE, SIZE), [11, 12, 13], stream=0)
    assert_step_capturable(model, objective, images, _robustness())


# --- what it catches -------------------------------------------------------------------------


class _ReadsBack(BaseLoss):
    def __call__(self, values):
        activation = self.activation(values)
        return activation * float(activation.detach().max())


class _BuildsHostTensor(BaseLoss):
    def __call__(self, values):
        return self.activation(values) * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).view(6, 1, 1)


class _MasksByValue(BaseLoss):
    def __call__(self, values):
        activation = self.activation(values)
        return activation[activation > 0].sum()


class _CopiesEveryStep(BaseLoss):
    def __init__(self, target, vec):
        super().__init__(target)
        self.vec = vec

    def __call__(self, values):
        activation = self.activation(values)
        return activation * self.vec.to(activation).view(1, -1, 1, 1)


class _ListIndexing(nn.Module):
    def forward(self, x):
        return x[:, [2, 1, 0]]


@pytest.mark.parametrize(
    ("objective", "model_front", "operation", "method"),
    [
        (_ReadsBack, None, "_local_scalar_dense", "__call__"),
        (_BuildsHostTensor, None, "lift_fresh", "__call__"),
        (_MasksByValue, None, "boolean mask", "__call__"),
        (None, _ListIndexing, "lift_fresh", "forward"),
        (_CopiesEveryStep, None, "_to_copy", "__call__"),
    ],
)
def test_host_synchronisations_are_caught_and_located(objective, model_front, operation, method):
    model = _model()
    if model_front is not None:
        model = nn.Sequential(model_front(), *model).eval()
    target = model[-1]
    if objective is _CopiesEveryStep:
        loss = _CopiesEveryStep(target, torch.rand(6))
    elif objective is not None:
        loss = objective(target)
    else:
        loss = opt.loss.ChannelActivation(target, 1)
    with pytest.raises(RuntimeError, match="CUDA graph failed") as error:
        assert_step_capturable(model, loss, opt.images.PixelImage((SIZE, SIZE)), _robustness())
    cause = error.value.__cause__
    assert isinstance(cause, HostSyncError)
    assert operation in str(cause)
    assert "test_optimization_capture_check.py" in str(cause) and f"({method})" in str(cause)


def test_converted_like_copies_once_the_way_the_meta_pass_expects():
    """The fix for _CopiesEveryStep: ``converted_like`` is not a copy per step."""

    class CopiesOnce(_CopiesEveryStep):
        def __call__(self, values):
            activation = self.activation(values)
            return activation * self.converted_like(self.vec, activation).view(1, -1, 1, 1)

    model = _model()
    loss = CopiesOnce(model[3], torch.rand(6))
    assert_step_capturable(model, loss, opt.images.PixelImage((SIZE, SIZE)), _robustness())


def test_host_randomness_is_refused_by_name():
    model = _model()
    jitter = nn.Sequential(nn.Identity(), opt.transforms.RandomSpatialJitter(2))
    with pytest.raises(
        ValueError, match=r"1 \(RandomSpatialJitter: draws its randomness on the host\)"
    ):
        assert_step_capturable(model, opt.loss.ChannelActivation(model[3], 1), None, jitter)


def test_without_fusing_the_eager_robustness_stack_is_refused():
    model = _model()
    objective = opt.loss.ChannelActivation(model[3], 1)
    with pytest.raises(ValueError, match="TransformationRobustness"):
        assert_step_capturable(model, objective, None, _robustness(), fuse_transforms=False)


def test_the_callers_objects_are_left_as_they_were():
    model = _model()
    model[0].weight.requires_grad_(True)
    weights = [p.clone() for p in model.parameters()]
    image = opt.images.NaturalImage((SIZE, SIZE))
    pixels = [p.clone() for p in image.parameters()]
    objective = opt.loss.Direction(model[3], torch.rand(6))
    stack = _robustness()
    assert_step_capturable(model, objective, image, stack)
    for before, after in zip(weights, model.parameters(), strict=True):
        assert torch.equal(before, after) and after.device.type == "cpu" and after.requires_grad
        assert after.is_contiguous()  # channels_last undone
    for before, after in zip(pixels, image.parameters(), strict=True):
        assert torch.equal(before, after)
    assert not model._forward_hooks and not model[3]._forward_hooks
    assert all(p.device.type == "cpu" for p in image.parameters())
    assert type(stack) is opt.transforms.TransformationRobustness


def test_the_random_state_is_restored():
    model = _model()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    assert_step_capturable(model, opt.loss.ChannelActivation(model[3], 1), None, _robustness())
    assert torch.equal(torch.rand(3), expected)


def test_tied_weights_stay_tied_and_come_back():
    model = _model()
    model[2].weight = nn.Parameter(torch.rand(6, 8, 3, 3))
    shared = nn.Sequential(model, nn.Conv2d(6, 6, 1)).eval()
    shared[1].weight = nn.Parameter(torch.rand(6, 6, 1, 1))
    original = model[2].weight
    assert_step_capturable(shared, opt.loss.ChannelActivation(model[3], 1), None, _robustness())
    assert model[2].weight is original


def test_rejects_a_model_that_is_not_a_module():
    with pytest.raises(TypeError, match=r"model must be an nn\.Module"):
        assert_step_capturable("googlenet", opt.loss.ChannelActivation("0", 0))


# --- the pieces ---------------------------------------------------------------------------


def test_capturing_step_is_true_only_inside_a_capture():
    assert not capturing_step()
    with simulated_capture():
        assert capturing_step()
        with simulated_capture():
            assert capturing_step()
        assert capturing_step()
    assert not capturing_step()
    with pytest.raises(KeyError), simulated_capture():
        raise KeyError("left on an exception too")
    assert not capturing_step()


def test_converted_like_caches_until_the_tensor_changes():
    loss = opt.loss.LayerActivation(nn.ReLU())
    like = torch.zeros(2, dtype=torch.float64)
    vec = torch.tensor([1.0, 2.0])
    first = loss.converted_like(vec, like)
    assert first.dtype == torch.float64 and loss.converted_like(vec, like) is first
    vec.mul_(3)  # modified in place: a fresh copy with the new values
    assert loss.converted_like(vec, like).tolist() == [3.0, 6.0]
    other = torch.tensor([5.0, 7.0])  # a new tensor: its own copy
    assert loss.converted_like(other, like).tolist() == [5.0, 7.0]
    assert loss.converted_like(like, like) is like  # nothing to convert


def test_converted_like_keeps_gradients_of_a_tensor_that_requires_them():
    loss = opt.loss.LayerActivation(nn.ReLU())
    vec = torch.tensor([1.0, 2.0], requires_grad=True)
    like = torch.zeros(2, dtype=torch.float64)
    for _ in range(2):  # a cached copy would be detached from the second graph
        (loss.converted_like(vec, like) * 2).sum().backward()
    assert vec.grad.tolist() == [4.0, 4.0]


def test_module_docstring_example_runs_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
        assert_step_capturable(
            model,
            opt.loss.ChannelActivation("1", 0),
            opt.images.NaturalImage((SIZE, SIZE)),
            opt.transforms.TransformationRobustness(),
        )
