"""The GoogLeNet trunk shared by InceptionV1 (inception5h) and InceptionV1-Places365."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from optim.checks import check_int
from optim.model_utils import Conv2dSame
from optim.models.inception_module import AuxBranch, InceptionModule
from optim.models.layer_options import activation_and_pool
from optim.models.local_response_norm import LocalResponseNorm

__all__ = ["GoogLeNetConfig", "GoogLeNetBase"]

MixedConfig = tuple[int, int, int, int, int, int, int]


@dataclass(frozen=True)
class GoogLeNetConfig:
    """What differs between the GoogLeNet variants: block channels, LRN, conv1 padding."""

    mixed: dict[str, MixedConfig]
    lrn: tuple[int, float, float, float]  # size, alpha, beta, k
    conv1_same_padding: bool  # TF "SAME" (inception5h) or Caffe's symmetric pad 3 (Places365)
    aux_in_channels: tuple[int, int]


class GoogLeNetBase(nn.Module):
    """The trunk: stem, nine Inception modules, optional aux branches, classifier.

    Subclasses set the input convention in :meth:`transform`. Layer names follow Lucid/captum:
    ``mixedXX`` is the pre-ReLU concatenation and ``mixedXX_relu`` the activation after it.
    """

    __constants__ = ["aux_logits"]  # TorchScript compiles only the branches that exist

    def __init__(
        self,
        config: GoogLeNetConfig,
        out_features: int,
        aux_logits: bool,
        replace_relus_with_redirectedrelu: bool,
        use_linear_modules_only: bool,
    ) -> None:
        super().__init__()
        check_int(out_features, "out_features", minimum=1)
        self.aux_logits = aux_logits
        activ, pool = activation_and_pool(
            replace_relus_with_redirectedrelu, use_linear_modules_only
        )
        m = config.mixed

        if config.conv1_same_padding:
            self.conv1: nn.Module = Conv2dSame(3, 64, kernel_size=7, stride=2)
        else:
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.conv1_relu = activ()
        self.pool1 = pool(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        self.local_response_norm1 = LocalResponseNorm(*config.lrn)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=1)
        self.conv2_relu = activ()
        self.conv3 = Conv2dSame(64, 192, kernel_size=3)
        self.conv3_relu = activ()
        self.local_response_norm2 = LocalResponseNorm(*config.lrn)
        self.pool2 = pool(kernel_size=3, stride=2, padding=0, ceil_mode=True)

        self.mixed3a = InceptionModule(*m["3a"], activ, pool)
        self.mixed3a_relu = activ()
        self.mixed3b = InceptionModule(*m["3b"], activ, pool)
        self.mixed3b_relu = activ()
        self.pool3 = pool(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        self.mixed4a = InceptionModule(*m["4a"], activ, pool)
        self.mixed4a_relu = activ()
        if aux_logits:
            self.aux1 = AuxBranch(config.aux_in_channels[0], out_features, activ)
        self.mixed4b = InceptionModule(*m["4b"], activ, pool)
        self.mixed4b_relu = activ()
        self.mixed4c = InceptionModule(*m["4c"], activ, pool)
        self.mixed4c_relu = activ()
        self.mixed4d = InceptionModule(*m["4d"], activ, pool)
        self.mixed4d_relu = activ()
        if aux_logits:
            self.aux2 = AuxBranch(config.aux_in_channels[1], out_features, activ)
        self.mixed4e = InceptionModule(*m["4e"], activ, pool)
        self.mixed4e_relu = activ()
        self.pool4 = pool(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        self.mixed5a = InceptionModule(*m["5a"], activ, pool)
        self.mixed5a_relu = activ()
        self.mixed5b = InceptionModule(*m["5b"], activ, pool)
        self.mixed5b_relu = activ()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.drop = nn.Dropout(0.4000000059604645)
        self.fc = nn.Linear(m["5b"][1] + m["5b"][3] + m["5b"][5] + m["5b"][6], out_features)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Map the user's input to what the weights expect (identity here)."""
        return x

    def forward(
        self, x: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.transform(x)
        x = self.local_response_norm1(self.pool1(self.conv1_relu(self.conv1(x))))
        x = self.conv2_relu(self.conv2(x))
        x = self.pool2(self.local_response_norm2(self.conv3_relu(self.conv3(x))))
        x = self.mixed3a_relu(self.mixed3a(x))
        x = self.mixed3b_relu(self.mixed3b(x))
        x = self.pool3(x)
        x = self.mixed4a_relu(self.mixed4a(x))
        aux1: torch.Tensor | None = None
        if self.aux_logits:
            aux1 = self.aux1(x)
        x = self.mixed4b_relu(self.mixed4b(x))
        x = self.mixed4c_relu(self.mixed4c(x))
        x = self.mixed4d_relu(self.mixed4d(x))
        aux2: torch.Tensor | None = None
        if self.aux_logits:
            aux2 = self.aux2(x)
        x = self.mixed4e_relu(self.mixed4e(x))
        x = self.pool4(x)
        x = self.mixed5a_relu(self.mixed5a(x))
        x = self.mixed5b_relu(self.mixed5b(x))
        x = self.fc(self.drop(torch.flatten(self.avgpool(x), 1)))
        if aux1 is not None and aux2 is not None:
            return x, aux1, aux2
        return x
