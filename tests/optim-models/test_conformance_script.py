"""TorchScript of the zoo's building blocks (SPEC: the models are scriptable); the whole
factories are not yet (issue 21)."""

from __future__ import annotations

import torch

from optim.models.local_response_norm import LocalResponseNorm


def test_local_response_norm_scripts_to_the_same_values():
    layer = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    x = torch.rand(2, 8, 6, 6, generator=torch.Generator().manual_seed(0)) * 10
    scripted = torch.jit.script(layer)
    # torch's kernel vs optim's banded convolution: a sum of 5 squares, then a power
    tol = torch.finfo(torch.float32).eps * 5 * 4
    torch.testing.assert_close(scripted(x), layer(x), rtol=tol, atol=tol)
