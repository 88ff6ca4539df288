"""TorchScript and ``torch.export`` of the zoo (SPEC: every zoo model is scriptable with
``torch.jit.script``; TorchScript is deprecated, so ``torch.export`` too): each factory, plain,
in its pretrained configuration (redirected ReLUs, input transform) and linear-only, and the
CLIP text tower with token input, compile and give the eager model's outputs."""

from __future__ import annotations

import pytest
import torch

import optim as opt
from optim.models.local_response_norm import LocalResponseNorm


def test_local_response_norm_scripts_to_the_same_values():
    layer = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    x = torch.rand(2, 8, 6, 6, generator=torch.Generator().manual_seed(0)) * 10
    scripted = torch.jit.script(layer)
    # torch's kernel vs optim's banded convolution: a sum of 5 squares, then a power
    tol = torch.finfo(torch.float32).eps * 5 * 4
    torch.testing.assert_close(scripted(x), layer(x), rtol=tol, atol=tol)


ZOO = {
    "googlenet": (lambda **o: opt.models.googlenet(**o), 224),
    "googlenet_places365": (lambda **o: opt.models.googlenet_places365(**o), 224),
    "vgg16": (lambda **o: opt.models.vgg16(**o), 224),
    "efficientnet_lite0": (lambda **o: opt.models.efficientnet_lite0(**o), 224),
    "clip_resnet50x4_image": (lambda **o: opt.models.clip_resnet50x4_image(**o), 288),
}
CONFIGS = {
    "plain": {},
    "redirected": {"transform_input": True, "replace_relus_with_redirectedrelu": True},
    "linear": {"use_linear_modules_only": True},  # SkipLayer scripts as an identity
}


def _first(output):
    return output[0] if isinstance(output, tuple) else output


# How each compiler builds a callable, and how far its outputs may be from eager. TorchScript:
# redirected ReLUs script to plain ReLUs (the same forward values); LocalResponseNorm to torch's
# kernel, whose float32 sums differ from the banded convolution's by rounding, carried through
# the trunk: a relative 1e-4 of the output's scale. torch.export records the same kernels on
# the same values: float32 rounding at most, 1e-5.
COMPILERS = {
    "script": (lambda model, x: torch.jit.script(model), 1e-4),
    "export": (lambda model, x: torch.export.export(model, (x,)).module(), 1e-5),
}


@pytest.mark.parametrize("compiler", list(COMPILERS))
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("name", list(ZOO))
def test_every_zoo_model_compiles_to_the_same_outputs(name, config, compiler):
    build, size = ZOO[name]
    compile_, tol = COMPILERS[compiler]
    torch.manual_seed(0)
    model = build(**CONFIGS[config]).eval()
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    compiled = compile_(model, x)
    with torch.no_grad():
        eager, got = _first(model(x)), _first(compiled(x))
    scale = float(eager.abs().max())
    torch.testing.assert_close(got, eager, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("compiler", list(COMPILERS))
def test_clip_text_tower_compiles_with_token_input(compiler):
    compile_, _ = COMPILERS[compiler]
    torch.manual_seed(0)
    model = opt.models.clip_resnet50x4_text(num_residual_layers=2).eval()
    tokens = torch.randint(0, 49408, (2, 77), generator=torch.Generator().manual_seed(0))
    compiled = compile_(model, tokens)
    with torch.no_grad():
        torch.testing.assert_close(compiled(tokens), model(tokens), rtol=1e-5, atol=1e-5)
