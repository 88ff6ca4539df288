"""The text tower of OpenAI's CLIP ResNet-50x4 (a causal transformer over BPE tokens)."""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from optim.models.factory import build_model

__all__ = [
    "CLIP_RESNET50X4_TEXT_URL",
    "CLIP_ResNet50x4Text",
    "QuickGELU",
    "ResidualAttentionBlock",
    "clip_resnet50x4_text",
]

CLIP_RESNET50X4_TEXT_URL = "https://pytorch.s3.amazonaws.com/models/captum/clip_resnet50x4_text.pt"


class QuickGELU(nn.Module):
    """CLIP's GELU approximation ``x * sigmoid(1.702 * x)``.

    Example:
        >>> QuickGELU()(torch.zeros(2)).tolist()
        [0.0, 0.0]
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block with a causal self-attention mask (batch-first tensors).

    Example:
        >>> ResidualAttentionBlock(8, 2, content_length=5)(torch.zeros(1, 5, 8)).shape
        torch.Size([1, 5, 8])
    """

    def __init__(self, width: int = 640, num_heads: int = 10, content_length: int = 77) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, num_heads, batch_first=True)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, width * 4)),
                    ("gelu", QuickGELU()),
                    ("c_proj", nn.Linear(width * 4, width)),
                ]
            )
        )
        self.ln_2 = nn.LayerNorm(width)
        mask = torch.full((content_length, content_length), float("-inf")).triu_(1)
        self.attn_mask: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        length = x.shape[1]
        mask = self.attn_mask[:length, :length].to(x.dtype)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class CLIP_ResNet50x4Text(nn.Module):
    """CLIP RN50x4 text tower: ``[B, content_length]`` int tokens -> ``[B, 640]`` features.

    The features are taken at each sequence's end-of-text token (the largest token id) and
    projected with ``text_projection``. ``logit_scale`` is kept for combining with the image
    tower. Tokens come from :class:`optim.models.CLIPTokenizer`. Layer names:
    ``token_embedding``, ``transformer.0`` ... ``transformer.11`` (each with ``ln_1``,
    ``attn``, ``ln_2``, ``mlp``), ``ln_final``.

    Args:
        width: embedding width.
        num_heads: attention heads per block.
        num_residual_layers: number of transformer blocks.
        content_length: maximum number of tokens (77).
        vocab_size: BPE vocabulary size (49408).

    Example:
        >>> model = CLIP_ResNet50x4Text(width=16, num_heads=2, num_residual_layers=1,
        ...                             content_length=6, vocab_size=10)
        >>> model(torch.tensor([[8, 3, 9, 0, 0, 0]])).shape
        torch.Size([1, 16])
    """

    def __init__(
        self,
        width: int = 640,
        num_heads: int = 10,
        num_residual_layers: int = 12,
        content_length: int = 77,
        vocab_size: int = 49408,
    ) -> None:
        super().__init__()
        if width % num_heads:
            raise ValueError(f"width ({width}) must be divisible by num_heads ({num_heads})")
        self.content_length = content_length
        self.vocab_size = vocab_size
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.randn(content_length, width) * 0.01)
        self.transformer = nn.Sequential(
            *[
                ResidualAttentionBlock(width, num_heads, content_length)
                for _ in range(num_residual_layers)
            ]
        )
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, width) * width**-0.5)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # the checks format messages in Python: eager only
            text = text.unsqueeze(0) if text.dim() == 1 else text
        else:
            text = self._checked_tokens(text)
        x = self.token_embedding(text) + self.positional_embedding[: text.shape[1]]
        x = self.ln_final(self.transformer(x))
        eot = x[torch.arange(x.shape[0], device=x.device), text.argmax(dim=-1)]
        return eot @ self.text_projection

    @torch.jit.unused
    def _checked_tokens(self, text: torch.Tensor) -> torch.Tensor:
        """``text`` as ``[B, L]`` int tokens, or the error saying what is wrong."""
        if not isinstance(text, torch.Tensor) or text.dtype not in (torch.int32, torch.int64):
            raise TypeError(
                "CLIP_ResNet50x4Text expects int tokens [B, L] (use optim.models.CLIPTokenizer), "
                f"got {getattr(text, 'dtype', type(text).__name__)}"
            )
        if text.dim() == 1:
            text = text.unsqueeze(0)
        if text.dim() != 2 or text.shape[1] > self.content_length:
            raise ValueError(
                f"Expected tokens shaped [B, L] with L <= {self.content_length}, got "
                f"{tuple(text.shape)}"
            )
        return text


def clip_resnet50x4_text(
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    **kwargs: Any,
) -> CLIP_ResNet50x4Text:
    """CLIP RN50x4 text tower, optionally with its pretrained weights (no injected defaults).

    Example:
        >>> model = clip_resnet50x4_text(num_residual_layers=1)
        >>> model(torch.zeros(2, 77, dtype=torch.long)).shape
        torch.Size([2, 640])
    """
    return build_model(
        CLIP_ResNet50x4Text, CLIP_RESNET50X4_TEXT_URL, pretrained, progress, model_path, {}, kwargs
    )
