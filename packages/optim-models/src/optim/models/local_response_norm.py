"""Local response normalization with the channel window sum done as one 1x1 convolution."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from optim.checks import check_real, is_int

__all__ = ["LocalResponseNorm", "lrn_band"]


def lrn_band(
    channels: int,
    size: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The ``[channels, channels]`` 0/1 matrix that sums torch's LRN window over channels.

    ``band[c, j] = 1`` for ``c - size // 2 <= j <= c + (size - 1) // 2``: the window of
    ``F.local_response_norm`` (which pads ``size // 2`` channels before and ``(size - 1) // 2``
    after). Built on ``device`` without leaving it (no host synchronisation).

    Example:
        >>> lrn_band(4, 3)
        tensor([[1., 1., 0., 0.],
                [1., 1., 1., 0.],
                [0., 1., 1., 1.],
                [0., 0., 1., 1.]])
    """
    if not is_int(channels) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    if not is_int(size) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    index = torch.arange(channels, device=device)
    offset = index[None, :] - index[:, None]  # j - c
    inside = (offset >= -(size // 2)) & (offset <= (size - 1) // 2)
    return inside.to(torch.get_default_dtype() if dtype is None else dtype)


class _LocalResponseNorm(torch.autograd.Function):
    """``x * (bias + conv(x * x, weight)) ** -beta`` with a backward of four elementwise kernels.

    ``weight_t`` is ``weight`` with its two channel axes swapped: the backward convolves with
    it (a plain convolution is faster than ``conv_transpose2d`` on the CPU).

    ``scale`` and ``base`` are returned as outputs (not only saved) so that double backward
    differentiates through them too; their own gradients are ``None`` in a plain backward.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        weight_t: torch.Tensor,
        bias: torch.Tensor,
        beta: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        base = F.conv2d(x * x, weight, bias)
        scale = base.rsqrt() if beta == 0.5 else base.pow(-beta)
        ctx.beta = beta
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x, weight_t, scale, base)
        return x * scale, scale, base

    @staticmethod
    def backward(
        ctx: Any,
        grad_out: torch.Tensor | None,
        grad_scale: torch.Tensor | None,
        grad_base: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, None, None, None, None]:
        x, weight_t, scale, base = ctx.saved_tensors
        beta = ctx.beta
        if grad_out is None:
            grad_out = torch.zeros_like(x)
        # d out / d x = scale (direct) + 2 x W^T (d base), d base = d scale * -beta scale / base
        grad_in = grad_out * scale
        d_base = grad_in * x
        if grad_scale is not None:
            d_base = d_base + grad_scale * scale
        d_base = d_base / base
        value = -2.0 * beta
        if grad_base is not None:
            d_base = d_base * -beta + grad_base
            value = 2.0
        # CUDA autocast runs rsqrt/pow in float32, so d_base can be wider than the band.
        window = F.conv2d(d_base, weight_t.to(d_base.dtype))
        grad_x = torch.addcmul(grad_in, x, window, value=value)
        return grad_x, None, None, None, None


class LocalResponseNorm(nn.LocalResponseNorm):
    """``nn.LocalResponseNorm`` with the same outputs, in a few kernels (4-D inputs).

    torch sums the window with ``avg_pool3d`` over a padded copy (slow, above all its
    backward and in channels_last). Here the window sum is a 1x1 convolution of ``x * x``
    with a constant band matrix whose weights already hold ``alpha / size`` (torch counts
    the padding, so it divides by ``size`` everywhere) and whose bias is ``k``:
    ``out = x * (k + alpha / size * sum_window(x * x)) ** -beta``, with ``rsqrt`` for
    ``beta == 0.5``. The band is built on the input's device and cached per channels, device
    and dtype; it is no parameter or buffer, so state dicts are those of
    ``nn.LocalResponseNorm`` (empty). Other ranks use the parent's implementation.

    On CUDA with ``torch.backends.cudnn.allow_tf32`` (torch's default) the window sum runs
    in TF32, like every other convolution of the model. float16 inputs (fp16 autocast) are
    normalised in float32: their squares overflow float16 from 256 on.

    Example:
        >>> lrn = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        >>> x = torch.rand(2, 8, 4, 4)
        >>> reference = torch.nn.functional.local_response_norm(x, 5, 1e-4, 0.75, 1.0)
        >>> torch.allclose(lrn(x), reference)
        True
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        if not is_int(size) or size < 1:
            raise ValueError(f"LocalResponseNorm size must be a positive int, got {size!r}")
        for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
            check_real(value, f"LocalResponseNorm {name}", finite=False)
        super().__init__(size, alpha, beta, k)
        # (channels, device, dtype, size, alpha, k) -> (weight, transposed weight, bias)
        self._window: dict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _window_conv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        channels = x.shape[1]
        # The hyper-parameters are in the key so that editing them after a call stays correct.
        key = (channels, x.device, x.dtype, self.size, self.alpha, self.k)
        cached = self._window.get(key)
        if cached is None:
            band = lrn_band(channels, self.size, x.device, x.dtype)
            weight = (band * (self.alpha / self.size))[:, :, None, None]
            bias = torch.full((channels,), float(self.k), device=x.device, dtype=x.dtype)
            # Odd windows are symmetric; even ones reach one channel further back than ahead.
            weight_t = weight if self.size % 2 else weight.transpose(0, 1).contiguous()
            cached = self._window[key] = (weight, weight_t, bias)
        return cached

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # the same values, through torch's own kernel
            return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)
        return self._forward_eager(input)

    @torch.jit.unused
    def _forward_eager(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor):
            raise TypeError(f"LocalResponseNorm expects a tensor, got {type(input).__name__}")
        if input.dim() != 4 or not input.is_floating_point():
            return super().forward(input)
        if input.dtype == torch.float16:
            # Squares of activations above 256 overflow float16 (and alpha / size is below its
            # smallest normal number): normalise in float32, autocast off, then cast back.
            with torch.autocast(input.device.type, enabled=False):
                return self._normalize(input.float()).to(torch.float16)
        return self._normalize(input)

    def _normalize(self, input: torch.Tensor) -> torch.Tensor:
        weight, weight_t, bias = self._window_conv(input)
        return _LocalResponseNorm.apply(input, weight, weight_t, bias, float(self.beta))[0]
