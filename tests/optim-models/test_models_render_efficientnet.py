"""A real render on the offline EfficientNet-Lite0: the target channel's activation rises >= 10x."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

import optim as opt
from optim.models import efficientnet_lite0

TARGET, CHANNEL = "_blocks.12._expand_relu", 12
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_render_raises_channel_activation_tenfold_and_saves_png(tmp_path):
    model = efficientnet_lite0(pretrained=True)
    layer = dict(model.named_modules())[TARGET]
    torch.manual_seed(0)
    image = opt.images.NaturalImage((128, 128))

    def channel_activation() -> float:
        with torch.no_grad():
            return opt.collect_activations(model, [layer], image())[layer][:, CHANNEL].mean().item()

    before = channel_activation()
    obj = opt.InputOptimization(
        model,
        opt.loss.ChannelActivation(TARGET, CHANNEL),
        image,
        opt.transforms.TransformationRobustness(),
    )
    history = obj.optimize(opt.optimization.n_steps(64, show_progress=False), lr=0.05)
    after = channel_activation()

    assert history.shape == (64,)
    assert before > 0
    assert after >= 10 * before, (before, after)
    assert all(not m._forward_hooks for m in model.modules())

    png = tmp_path / "efficientnet_lite0_render.png"
    opt.save_tensor_as_image(image().detach(), str(png))
    with Image.open(png) as saved:
        assert saved.size == (128, 128)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / png.name).write_bytes(png.read_bytes())
    except OSError:
        pass  # a read-only checkout keeps only the pytest tmp copy
