"""CPPNImage on EfficientNet-Lite0's real weights: it raises the objective, and the learned
image redraws at 256 px consistently with the 64 px one."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import optim as opt


def test_cppn_raises_a_real_channel_and_redraws_at_any_size():
    model = opt.models.efficientnet_lite0(pretrained=True).eval()
    torch.manual_seed(0)
    image = opt.images.NaturalImage((64, 64), parameterization=opt.images.CPPNImage)
    objective = opt.loss.ChannelActivation(model._blocks[10], 2)
    run = opt.InputOptimization(model, objective, image, opt.transforms.TransformationRobustness())
    losses = run.optimize(opt.optimization.n_steps(48, show_progress=False), lr=0.01)
    objectives = -losses.reshape(len(losses), -1).mean(dim=1)
    assert objectives[-8:].mean() > objectives[:8].mean() + 1.0, objectives
    with torch.no_grad():
        small = image().as_subclass(torch.Tensor)
        large = image.at_size((256, 256)).as_subclass(torch.Tensor)
    assert large.shape == (1, 3, 256, 256)
    # Sampling the 256 px drawing at the 64 px grid's coordinates (bilinear, align_corners)
    # leaves only interpolation error: (h^2 max|f_xx| + h^2 max|f_yy|) / 8, with h^2 f''
    # measured as the 256 px image's second differences (x2 for that estimate).
    back = F.interpolate(large, size=(64, 64), mode="bilinear", align_corners=True)
    d_xx = (large[..., 2:] - 2 * large[..., 1:-1] + large[..., :-2]).abs().max()
    d_yy = (large[..., 2:, :] - 2 * large[..., 1:-1, :] + large[..., :-2, :]).abs().max()
    gap = (back - small).abs().max()
    assert gap <= 2 * (d_xx + d_yy) / 8, (gap, d_xx, d_yy)
    assert gap < 0.05, f"max pixel difference {gap:.3g} between the 64 px image and the redraw"
