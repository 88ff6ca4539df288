"""InputOptimization on torchvision resnet18 (random weights, 64 px): improvement, hook
hygiene on every exit path, reproducibility, early stop, defaults and errors."""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision
from torch import nn

import optim as opt
from optim.optimization import n_steps

SIZE = 64
STEPS = 3  # short renders for the behaviour checks below


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


def _hook_count(*roots: nn.Module) -> int:
    return sum(len(m._forward_hooks) for root in roots for m in root.modules())


def _channel_mean(model: nn.Module, image: torch.Tensor, layer: str, channel: int) -> float:
    with torch.no_grad():
        act = opt.collect_activations(model, layer, image)[layer]
    return act[:, channel].mean().item()


def test_render_improves_objective_and_leaves_no_hooks(resnet):
    torch.manual_seed(1)
    image = opt.images.NaturalImage((SIZE, SIZE))
    transform = opt.transforms.TransformationRobustness()
    obj = opt.InputOptimization(
        resnet, opt.loss.ChannelActivation("layer2.1.conv2", 7), image, transform
    )
    before = _channel_mean(resnet, image().detach(), "layer2.1.conv2", 7)
    history = obj.optimize(n_steps(32, show_progress=False), lr=0.05)
    after = _channel_mean(resnet, image().detach(), "layer2.1.conv2", 7)
    assert history.shape == (32,)
    assert history[-1] < history[0]  # summarised values are -objective
    assert history[-8:].mean() < history[:8].mean()
    assert after > before
    assert _hook_count(resnet, image, transform) == 0


class _ExplodingLoss(opt.loss.BaseLoss):
    """Raises at a given step (counted by calls)."""

    def __init__(self, target, at_call: int) -> None:
        super().__init__(target)
        self.calls = 0
        self.at_call = at_call

    def __call__(self, targets_to_values):
        self.calls += 1
        if self.calls > self.at_call:
            raise ValueError("boom from inside the loss")
        return self.select_batch(self.activation(targets_to_values))


def test_exception_inside_loss_removes_hooks(resnet):
    image = opt.images.NaturalImage((SIZE, SIZE))
    obj = opt.InputOptimization(resnet, _ExplodingLoss(resnet.layer1, 2), image, nn.Sequential())
    with pytest.raises(ValueError, match="boom"):
        obj.optimize(n_steps(10, show_progress=False))
    assert _hook_count(resnet, image) == 0


def test_keyboard_interrupt_returns_history_so_far(resnet):
    image = opt.images.NaturalImage((SIZE, SIZE))
    start = [p.detach().clone() for p in image.parameters()]
    inner = n_steps(50, show_progress=True)

    def interrupt_at_five(step, optimization, history, optimizer):
        assert optimization.hooks is not None and _hook_count(resnet) == 1
        if step == 5:
            raise KeyboardInterrupt
        return inner(step, optimization, history, optimizer)

    interrupt_at_five.close = inner.close
    obj = opt.InputOptimization(resnet, opt.loss.ChannelActivation(resnet.layer1, 0), image)
    history = obj.optimize(interrupt_at_five)
    assert history.shape == (5,)
    assert _hook_count(resnet, image) == 0
    assert inner._bar is None  # the progress bar was closed
    assert any(not torch.equal(a, p) for a, p in zip(start, image.parameters()))


def _seeded_render(
    model: nn.Module, seed: int, stop_early: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    image = opt.images.NaturalImage((SIZE, SIZE))
    obj = opt.InputOptimization(
        model,
        opt.loss.ChannelActivation("layer1.0.conv1", 3),
        image,
        opt.transforms.TransformationRobustness(),
        stop_early=stop_early,
    )
    history = obj.optimize(n_steps(STEPS, show_progress=False))
    return image().detach(), history


def test_same_seed_gives_bitwise_identical_image(resnet):
    first, history_1 = _seeded_render(resnet, 3)
    second, history_2 = _seeded_render(resnet, 3)
    other, _ = _seeded_render(resnet, 4)
    assert torch.equal(first, second) and torch.equal(history_1, history_2)
    assert not torch.equal(first, other)


def test_early_stop_skips_later_layers_and_gives_the_same_result(resnet):
    calls = []
    handle = resnet.fc.register_forward_hook(lambda *args: calls.append(1))
    try:
        stopped, history_stopped = _seeded_render(resnet, 5, stop_early=True)
        assert calls == []
        full, history_full = _seeded_render(resnet, 5, stop_early=False)
        assert len(calls) == STEPS
    finally:
        handle.remove()
    assert torch.equal(history_stopped, history_full)
    assert torch.equal(stopped, full)


def test_training_mode_warns():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2))
    obj = opt.InputOptimization(
        model, opt.loss.LayerActivation("0"), opt.images.NaturalImage((8, 8)), nn.Sequential()
    )
    with pytest.warns(UserWarning, match=r"training mode.*model\.eval\(\)"):
        obj.optimize(n_steps(1, show_progress=False))
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obj.optimize(n_steps(1, show_progress=False))


def test_non_finite_objective_names_the_step():
    layer = nn.Conv2d(3, 1, 1)
    loss = opt.loss.CompositeLoss(
        lambda values: torch.log(-values[layer].abs() - 1), name="Broken", target=layer
    )
    obj = opt.InputOptimization(layer, loss, opt.images.NaturalImage((8, 8)), nn.Sequential())
    with pytest.raises(RuntimeError, match="not finite at step 0"):
        obj.optimize(n_steps(3, show_progress=False))
    assert len(layer._forward_hooks) == 0


def test_transform_defaults_and_empty_sequential_is_respected():
    model = nn.Conv2d(3, 1, 1)
    default = opt.InputOptimization(model, opt.loss.LayerActivation(model))
    kinds = [type(m).__name__ for m in default.transform]
    assert kinds == ["RandomScale", "RandomSpatialJitter"]
    assert isinstance(default.input_param, opt.images.NaturalImage)

    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    image = opt.images.NaturalImage((8, 8))
    empty = opt.InputOptimization(model, opt.loss.LayerActivation(model), image, nn.Sequential())
    empty.loss()
    torch.testing.assert_close(seen[-1], image())


def test_model_none_optimises_the_image_itself():
    torch.manual_seed(0)
    image = opt.images.NaturalImage((16, 16), parameterization=opt.images.PixelImage)
    tv = opt.loss.TotalVariation(image)
    before = tv({image: image()}).item()
    obj = opt.InputOptimization(None, -tv, image, nn.Sequential())
    obj.optimize(n_steps(20, show_progress=False), lr=0.05)
    assert tv({image: image()}).item() < before


def test_name_targets_are_resolved_and_checked(resnet):
    with pytest.raises(ValueError, match=r"Closest valid names: 'layer3'"):
        opt.InputOptimization(resnet, opt.loss.ChannelActivation("layer33", 0))
    obj = opt.InputOptimization(
        resnet, opt.loss.ChannelActivation("layer1", 0) + opt.loss.L2(resnet.layer1)
    )
    assert obj.targets == [resnet.layer1]
    with pytest.raises(IndexError, match=r"valid range is 0\.\.63"):
        opt.InputOptimization(
            resnet, opt.loss.ChannelActivation("layer1", 64), opt.images.NaturalImage((32, 32))
        ).loss()
    assert _hook_count(resnet) == 0


def test_n_steps_contract():
    stop = n_steps(3, show_progress=False)
    assert [stop(i, None, [], None) for i in range(5)] == [True, True, True, False, False]
    with pytest.raises(ValueError, match="non-negative int"):
        n_steps(-1)


def test_n_steps_advances_a_shared_bar_without_closing_it():
    import io

    from tqdm import tqdm

    from optim.optimization import NSteps

    bar = tqdm(total=6, file=io.StringIO())
    for _ in range(2):  # two runs (e.g. two batches of a layer render) share one bar
        stop = NSteps(3, show_progress=False, progress=bar)
        assert [stop(i, None, [torch.tensor(1.0)], None) for i in range(4)] == [True] * 3 + [False]
    assert bar.n == 6
    assert not bar.disable  # tqdm disables a bar when it is closed: the owner closes this one
    bar.close()


def test_overview_first_example_with_a_torchvision_model(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    # The overview's first example as written, with resnet18 in place of googlenet, a
    # 64 px image and 2 steps instead of the default 512.
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    model = torchvision.models.resnet18(weights=None).to(device).eval()
    loss_fn = opt.loss.ChannelActivation(model.layer3, 65)
    image = opt.images.NaturalImage((SIZE, SIZE)).to(device)
    transforms = opt.transforms.TransformationRobustness()

    def visualize(model, loss_fn, image, transforms):
        obj = opt.InputOptimization(model, loss_fn, image, transforms)
        history = obj.optimize(opt.optimization.n_steps(2, False))
        image().show()
        return history

    history = visualize(model, loss_fn, image, transforms)
    assert history.shape == (2,)
    plt.close("all")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_input_param_is_moved_to_the_model_device():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU()).cuda().eval()
    image = opt.images.NaturalImage((32, 32))
    obj = opt.InputOptimization(model, opt.loss.ChannelActivation("0", 1), image)
    history = obj.optimize(n_steps(3, show_progress=False))
    assert all(p.is_cuda for p in image.parameters())
    assert history.shape == (3,)
