"""Token layers ([B, tokens, F]) and channels-last maps ([B, H, W, C]) as targets; models that
take one input size.

Oracles: the [B, C, H, W] view is checked against numpy reshapes written out by hand; renders
on torchvision's ViT-B/16 and Swin-T (random weights) must raise their objective.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import optim as opt
from optim.loss import ActivationLayout, LayoutView
from optim.rendering.input_size import required_input_size
from optim.rendering.layer_layout import layer_layout
from optim.rendering.objective import layer_view, objective_for, unit_objective
from optim.rendering.parse_target import UnitTarget, parse_target

VIT_BLOCK = "encoder.layers.encoder_layer_11"


class TinyViT(nn.Module):
    """Patch embedding, a class token, ``registers`` register tokens, two transformer blocks."""

    def __init__(self, size=(32, 32), patch=8, dim=16, registers=0, declare=True):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.prefix = nn.Parameter(torch.randn(1, 1 + registers, dim))
        block = dict(d_model=dim, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.blocks = nn.Sequential(
            nn.TransformerEncoderLayer(**block), nn.TransformerEncoderLayer(**block)
        )
        if declare:
            self.required_input_size = size
            self.num_prefix_tokens = 1 + registers

    def forward(self, x):
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.prefix.expand(len(x), -1, -1), tokens], dim=1)
        return self.blocks(tokens)


def _grid_by_hand(tokens: np.ndarray, prefix: int, rows: int, cols: int) -> np.ndarray:
    """[B, T, F] -> [B, F, rows, cols]: patch token ``prefix + r * cols + c`` at (r, c)."""
    batch, _, features = tokens.shape
    out = np.empty((batch, features, rows, cols), dtype=tokens.dtype)
    for r in range(rows):
        for c in range(cols):
            out[:, :, r, c] = tokens[:, prefix + r * cols + c, :]
    return out


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return torchvision.models.vit_b_16().eval()


# --- the layout view ---------------------------------------------------------------------------


def test_patch_tokens_become_a_row_major_grid():
    tokens = torch.randn(2, 3 + 6, 5, dtype=torch.float64)  # 3 prefix tokens, 2x3 patches
    layout = ActivationLayout("tokens", prefix_tokens=3, grid=(2, 3))
    viewed = layout.channels_first(tokens)
    np.testing.assert_array_equal(viewed.numpy(), _grid_by_hand(tokens.numpy(), 3, 2, 3))
    assert layout.channels_first_shape((2, 9, 5)) == (2, 5, 2, 3)
    class_token = ActivationLayout("tokens", prefix_tokens=3, token="class").channels_first
    np.testing.assert_array_equal(class_token(tokens)[:, :, 0, 0].numpy(), tokens[:, 0].numpy())


def test_inferred_prefix_and_square_grid():
    tokens = torch.randn(1, 1 + 16, 4)
    viewed = ActivationLayout("tokens").channels_first(tokens)
    np.testing.assert_array_equal(viewed.numpy(), _grid_by_hand(tokens.numpy(), 1, 4, 4))


def test_channels_last_is_permuted():
    maps = torch.randn(2, 3, 4, 5)
    viewed = ActivationLayout("channels_last").channels_first(maps)
    np.testing.assert_array_equal(viewed.numpy(), maps.numpy().transpose(0, 3, 1, 2))


def test_layout_view_feeds_objectives_the_view():
    block = nn.Identity()
    tokens = torch.randn(1, 1 + 9, 6, dtype=torch.float64)
    grid = _grid_by_hand(tokens.numpy(), 1, 3, 3)
    channel = LayoutView(opt.loss.ChannelActivation(block, 4), "tokens")({block: tokens})
    np.testing.assert_array_equal(channel.numpy(), grid[:, 4])
    neuron = LayoutView(opt.loss.NeuronActivation(block, 4, x=2, y=1), "tokens")
    assert neuron({block: tokens}).item() == tokens[0, 1 + 1 * 3 + 2, 4].item()
    cls = LayoutView(opt.loss.ChannelActivation(block, 4), "tokens", token="class")
    assert cls({block: tokens}).item() == tokens[0, 0, 4].item()
    assert LayoutView(opt.loss.ChannelActivation(block, 4), "tokens").target is block


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ActivationLayout("nhwc"), "layout must be one of"),
        (lambda: ActivationLayout("channels_last", token="class"), "needs a token layer"),
        (lambda: ActivationLayout("tokens", prefix_tokens=0, token="class"), "needs a class"),
        (
            lambda: ActivationLayout("tokens").channels_first(torch.zeros(1, 4, 2, 2)),
            "expects a token",
        ),
        (
            lambda: ActivationLayout("tokens", prefix_tokens=1, grid=(3, 3)).channels_first(
                torch.zeros(1, 11, 2)
            ),
            "does not hold 1 prefix tokens and a 3x3 patch grid",
        ),
        (lambda: LayoutView(nn.Identity(), "tokens"), "wraps an optim.loss.Loss"),
    ],
)
def test_layout_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


# --- which layout a layer has ------------------------------------------------------------------


def test_layer_layout_reads_the_model_or_infers():
    tiny = TinyViT(registers=4)  # declares 5 prefix tokens, like timm's num_prefix_tokens
    assert layer_layout(tiny, "b", (1, 5 + 16, 8), (32, 32)) == ActivationLayout(
        "tokens", 5, (4, 4)
    )
    undeclared = TinyViT(registers=4, declare=False)
    assert layer_layout(undeclared, "b", (1, 5 + 16, 8), (32, 32)).prefix_tokens == 5
    # a 32x64 image with 8 px patches: a 4x8 grid, found from the aspect ratio
    assert layer_layout(nn.Identity(), "b", (1, 1 + 32, 8), (32, 64)).grid == (4, 8)
    assert layer_layout(nn.Identity(), "b", (1, 56, 56, 96), (224, 224)).kind == "channels_last"
    assert layer_layout(nn.Identity(), "b", (1, 96, 56, 56), (224, 224)).kind == "channels_first"
    assert layer_layout(nn.Identity(), "b", (1, 8, 8, 8), (64, 64)).kind == "channels_first"
    with pytest.raises(ValueError, match="not class/register tokens followed by a patch grid"):
        layer_layout(nn.Identity(), "b", (1, 100 + 17 + 3, 8), (32, 64))
    with pytest.raises(ValueError, match="only a token layer has a class token"):
        layer_layout(nn.Identity(), "conv", (1, 8, 4, 4), (32, 32), token="class")


def test_torchvision_vit_layout_and_required_size(vit):
    assert required_input_size(vit) == (224, 224)
    view = layer_view(vit, VIT_BLOCK, (224, 224))
    assert view.shape == (1, 197, 768)
    assert view.layout == ActivationLayout("tokens", 1, (14, 14))
    assert (view.channels, view.channels_first_shape) == (768, (1, 768, 14, 14))


# --- every objective that takes a channel ------------------------------------------------------


def _channel_objectives():
    names = []
    for name in opt.plugins.names("objectives"):
        try:
            objective_for(nn.Identity(), UnitTarget("conv", 1), name, batch_index=0)
        except ValueError:
            continue  # takes no channel, or needs more than a target gives (said clearly)
        names.append(name)
    return names


@pytest.mark.parametrize("name", _channel_objectives())
def test_every_channel_objective_reads_tokens_as_the_grid(name):
    """On a token layer an objective equals the same objective on the grid written by hand."""
    model = TinyViT()
    view = layer_view(model, "blocks.1", (32, 32))
    tokens = torch.randn(2, 17, 16, dtype=torch.float64)
    grid = torch.from_numpy(_grid_by_hand(tokens.numpy(), 1, 4, 4))
    for unit in (UnitTarget("blocks.1", 3), UnitTarget("blocks.1", 3, 2, 1)):
        try:
            on_grid = objective_for(view.module, unit, name, batch_index=0)
        except ValueError:
            continue  # the objective takes no position: the same holds on tokens
        on_tokens = objective_for(view.module, unit, name, batch_index=0, view=view)
        expected = on_grid({view.module: grid})
        torch.testing.assert_close(on_tokens({view.module: tokens}), expected, rtol=0, atol=0)


F = 16  # features of TinyViT's tokens
_VEC = torch.linspace(-1, 1, F, dtype=torch.float64)


def _python_objectives(m: nn.Module) -> dict[str, opt.loss.Loss]:
    """Every built-in objective on one layer, with the arguments only Python can give."""
    loss = opt.loss
    return {
        "LayerActivation": loss.LayerActivation(m),
        "ChannelActivation": loss.ChannelActivation(m, 3),
        "NeuronActivation": loss.NeuronActivation(m, 3, x=2, y=1),
        "DeepDream": loss.DeepDream(m),
        "Direction": loss.Direction(m, _VEC, cossim_pow=1.0),
        "NeuronDirection": loss.NeuronDirection(m, _VEC, x=2, y=1),
        "AngledNeuronDirection": loss.AngledNeuronDirection(m, _VEC, x=1, y=3),
        "TensorDirection": loss.TensorDirection(m, torch.randn(1, F, 2, 2, dtype=torch.float64)),
        "ActivationWeights": loss.ActivationWeights(m, _VEC),
        "ActivationInterpolation": loss.ActivationInterpolation(m, 1, m, 4),
        "Alignment": loss.Alignment(m),
        "Diversity": loss.Diversity(m),
        "L1": loss.L1(m),
        "L2": loss.L2(m),
        "L2Mean": loss.L2Mean(m, 3),
        "TotalVariation": loss.TotalVariation(m),
        "VectorLoss": loss.VectorLoss(m, _VEC),
    }


@pytest.mark.parametrize("name", list(_python_objectives(nn.Identity())))
def test_every_python_objective_reads_tokens_as_the_grid(name):
    """LayoutView(objective) on tokens equals the objective on the hand-written grid."""
    m = nn.Identity()
    objective = _python_objectives(m)[name]
    tokens = torch.randn(
        3, 1 + 16, F, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    grid = torch.from_numpy(_grid_by_hand(tokens.numpy(), 1, 4, 4))
    # The view is strided, not a copy: sums may run in another order, so allow float64 eps
    # times the number of summed values (the whole activation at most).
    tol = torch.finfo(torch.float64).eps * tokens.numel()
    on_tokens = LayoutView(objective, "tokens")({m: tokens})
    torch.testing.assert_close(on_tokens, objective({m: grid}), rtol=tol, atol=tol)
    maps = grid.permute(0, 2, 3, 1)  # the same values channels-last
    on_maps = LayoutView(objective, "channels_last")({m: maps})
    torch.testing.assert_close(on_maps, objective({m: grid}), rtol=tol, atol=tol)


def test_python_objective_list_covers_every_loss_class():
    classes = {
        name
        for name in opt.loss.__all__
        if isinstance(getattr(opt.loss, name), type)
        and issubclass(getattr(opt.loss, name), opt.loss.Loss)
    }
    # base classes, the wrapper itself, and FacetLoss (two targets: wrap each with LayoutView)
    untested = {"Loss", "BaseLoss", "CompositeLoss", "LayoutView", "FacetLoss"}
    assert classes - untested == set(_python_objectives(nn.Identity()))


# --- renders -----------------------------------------------------------------------------------


def test_vit_renders_raise_token_channel_patch_neuron_and_class_token(vit):
    for target, token in (
        (f"{VIT_BLOCK}:5", "patches"),
        (f"{VIT_BLOCK}:5:3:4", "patches"),
        (f"{VIT_BLOCK}:5", "class"),
    ):
        # No size given: the model's own 224 px. Without transforms every step is plain
        # gradient ascent on the same image, so the objective must rise.
        result = opt.render(
            vit, target, steps=6, seed=0, token=token, transforms=None, show_progress=False
        )
        assert result.images.shape == (1, 3, 224, 224)
        assert result.spec.size == (224, 224) and result.spec.token == token
        assert result.final_objective > float(result.history[0]), (target, token, result.history)


def test_vit_default_transforms_keep_its_size(vit):
    # The robustness stack pads, scales and rotates: it must crop/pad back to 224 px
    # ("Wrong image height! Expected 224 but got 213" before).
    result = opt.render(vit, f"{VIT_BLOCK}:5", steps=2, seed=0, show_progress=False)
    assert result.settings["transforms_keep_size"] is True
    assert result.images.shape == (1, 3, 224, 224) and np.isfinite(result.final_objective)


def test_swin_channels_last_renders():
    torch.manual_seed(0)
    swin = torchvision.models.swin_t().eval()
    view = layer_view(swin, "features.3", (64, 64))
    assert view.layout.kind == "channels_last" and view.channels == 192
    for target in ("features.3:5", "features.5.1:7:1:1"):
        result = opt.render(
            swin, target, size=64, steps=8, seed=0, transforms=None, show_progress=False
        )
        assert result.final_objective > float(result.history[0]), (target, result.history)


def test_render_layer_on_token_layer_scores_each_feature():
    torch.manual_seed(0)
    model = TinyViT().eval()
    result = opt.render_layer(model, "blocks.1", [0, 5], steps=3, seed=1, show_progress=False)
    assert result.images.shape == (2, 3, 32, 32) and result.spec.size == (32, 32)
    view = layer_view(model, "blocks.1", (32, 32))
    for channel, image, final in zip(result.channels, result.images, result.final_objectives):
        loss = view.viewed(opt.loss.ChannelActivation(view.module, channel))
        with torch.no_grad():
            expected = loss({view.module: model.blocks(_tokens(model, image[None]))}).mean()
        assert final == pytest.approx(float(expected), rel=1e-5)
    classes = opt.render_layer(
        model, "blocks.1", [0], steps=2, seed=1, token="class", show_progress=False
    )
    assert classes.spec.token == "class"


def _tokens(model: TinyViT, image: torch.Tensor) -> torch.Tensor:
    tokens = model.patch_embed(image).flatten(2).transpose(1, 2)
    return torch.cat([model.prefix.expand(len(image), -1, -1), tokens], dim=1)


def test_python_transforms_are_cropped_back_to_the_models_size():
    torch.manual_seed(0)
    model = TinyViT().eval()
    loss = LayoutView(opt.loss.ChannelActivation(model.blocks[1], 2), "tokens")
    result = opt.render(
        model, loss, steps=2, seed=0, show_progress=False,
        transforms=opt.transforms.TransformationRobustness(),
    )  # fmt: skip
    assert result.images.shape == (1, 3, 32, 32)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "token", "message"),
    [
        (f"{VIT_BLOCK}:5:14:0", "patches", "outside layer .* patch grid is 14 rows x 14 columns"),
        (f"{VIT_BLOCK}:768", "patches", "whose tokens have 768 features: use 0..767"),
        (f"{VIT_BLOCK}:5:1:1", "class", "class token .* has no position"),
        ("conv_proj:5", "class", "only a token layer has a class token"),
    ],
)
def test_bad_token_targets(vit, target, token, message):
    with pytest.raises(ValueError, match=message):
        unit_objective(vit, parse_target(target), size=(224, 224), token=token)


def test_wrong_size_fails_early_naming_the_models_size(vit):
    with pytest.raises(ValueError, match="takes 224x224 px input only, got 160x160"):
        opt.render(vit, f"{VIT_BLOCK}:5", size=160, steps=1, show_progress=False)
    spec = opt.rendering.RenderSpec(target=VIT_BLOCK, channels=(0,), size=(96, 96))
    with pytest.raises(ValueError, match="use size 224"):
        opt.render_layer(vit, spec, show_progress=False)
    with pytest.raises(ValueError, match="token must be one of"):
        opt.rendering.RenderSpec(token="cls")


def test_render_peaks_read_a_token_layer_as_its_patch_grid(tmp_path):
    """The gallery's ratio numerator: feature c's maximum over the patch tokens (not token c,
    and not the class token). Oracle: the tokens reshaped by hand."""
    from optim.image_utils import save_tensor_as_image
    from optim.rendering.exemplar_gallery import _load_png, render_peaks

    torch.manual_seed(0)
    model = TinyViT(registers=1).eval()
    paths = []
    for index in range(3):
        image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(index))
        paths.append(tmp_path / f"{index}.png")
        save_tensor_as_image(image, paths[-1])
    channels = [0, 7, 15]  # features (of 16); read as the 18 tokens they would pick tokens
    peaks = render_peaks(model, "blocks.1", channels, paths)
    pixels = torch.stack([_load_png(p) for p in paths])
    with torch.no_grad():
        tokens = model(pixels).numpy()
    grid = _grid_by_hand(tokens, prefix=2, rows=4, cols=4)
    expected = [float(grid[i, c].max()) for i, c in enumerate(channels)]
    np.testing.assert_allclose(peaks, expected, rtol=1e-6)
