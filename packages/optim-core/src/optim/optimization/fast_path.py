"""FastPath: how the optimisation loop runs its steps: loop options and GPU switches.

Every switch defaults to ``None`` ("auto"). The GPU switches are on for a CUDA device where
they cannot change what is being optimised, off elsewhere; the fused transforms and the folded
batch norms are on everywhere (a render is then cheaper on the CPU too, and still the same
image for the same seed).
Precision (``autocast``) changes numbers slightly and is therefore never switched on
automatically. The loop options are implemented by the loop itself, the GPU switches by
:mod:`optim.optimization.step_runner`; ``InputOptimization.last_run`` says what actually ran.

Example:
    >>> import torch
    >>> FastPath().resolve(torch.device("cpu")).cuda_graph
    False
    >>> FastPath(autocast="bf16").resolve(torch.device("cpu")).autocast_dtype
    torch.bfloat16
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from optim.checks import check_bool, check_int
from optim.optimization.run_report import Precision

__all__ = ["FastPath", "ResolvedFastPath", "graph_unsafe_modules"]

_AUTOCAST_NAMES: dict[str, torch.dtype | None] = {
    "fp32": None,
    "float32": None,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}

# Loss scale for float16 autocast: the gradient of a mean over a 64x28x28 activation is
# ~2e-5, below float16's smallest normal number; the input gradients are unscaled again
# before the optimizer sees them.
FP16_LOSS_SCALE = 2.0**12


@dataclass(frozen=True)
class ResolvedFastPath:
    """The concrete settings of a :class:`FastPath` on one device."""

    device: torch.device
    channels_last: bool
    autocast_dtype: torch.dtype | None
    cuda_graph: bool
    cuda_graph_explicit: bool  # asked for by the user: failures raise instead of falling back
    fuse_transforms: bool
    freeze_model: bool
    fold_batchnorm: bool
    check_finite_every: int
    warmup_steps: int

    @property
    def loss_scale(self) -> float:
        """The factor the loss is multiplied by before ``backward`` (fp16 only)."""
        return FP16_LOSS_SCALE if self.autocast_dtype == torch.float16 else 1.0

    @property
    def precision(self) -> Precision:
        """The model's precision: ``"fp32"`` (no autocast), ``"bf16"`` or ``"fp16"``."""
        return _precision(self.autocast_dtype)


@dataclass(frozen=True)
class FastPath:
    """How :meth:`InputOptimization.optimize` runs each step.

    Loop options, implemented by the loop itself on every device:
        freeze_model: do not compute gradients for the model's own parameters during the
            run (they are not optimised; their ``requires_grad`` is restored afterwards).
        fold_batchnorm: fold each eval-mode ``BatchNorm2d`` into the ``Conv2d`` before it
            for the run (exact up to float rounding, checked on the targets' outputs; restored
            afterwards; see :mod:`optim.optimization.fold_batchnorm`). Auto: on when
            ``freeze_model`` is (a frozen model is never trained, so the batch norms are
            constant).
        check_finite_every: check the objective for NaN/inf every this many steps (each
            check waits for the GPU). Auto: every step on CPU, before the update, so that the
            input keeps its last finite state; every 32 steps on a GPU. The error names the
            first bad step either way.

    Device switches, implemented by the step runner (:mod:`optim.optimization.step_runner`):
        channels_last: run the model in ``torch.channels_last`` memory format (faster
            convolutions: tensor cores on CUDA, oneDNN's NHWC kernels on CPU, where turning it
            off made the step 17-60% longer on EfficientNet-Lite0, InceptionV1 and ResNet-50;
            ``benchmarks/cpu_step.py``). Auto: on. The model's parameters are
            converted for the run and restored afterwards.
        autocast: ``"bf16"`` or ``"fp16"`` runs the model under ``torch.autocast``; the
            image parameterization, the transforms (and their randomness) and the objective
            stay float32 (captured activations are cast back to float32). ``None``/``"fp32"``:
            no autocast. float16 uses a fixed loss scale of 2**12.
        cuda_graph: capture the whole step (image, transforms, forward to the last target,
            objective, backward, optimizer update) as a CUDA graph after a few eager warm-up
            steps and replay it, removing Python and kernel-launch overhead. Needs a CUDA
            device, a ``capturable`` optimizer (the default Adam is built that way) and
            transforms whose randomness is drawn on the device (see
            :func:`graph_unsafe_modules`). Auto: on for CUDA when those hold, otherwise off
            with a log message; ``True`` raises instead.
        fuse_transforms: replace a ``TransformationRobustness`` by the equivalent
            :class:`~optim.transforms.FusedTransformationRobustness` (one shift and two
            resamples, or one affine warp, instead of ten padded jitters, a resize and a
            rotation, each with its backward). In eager steps (CPU) it keeps the stack's
            geometry and resampling (one draw per batch, the output sized by the zoom, the zoom
            and the rotation resampled separately, so renders are as sharp as the stack's); in
            a CUDA graph the output size is fixed, each image gets its own draws and one warp
            resamples once. Auto: on (a stack that cannot be expressed this way stays eager).
            The same distribution of jitters, zooms and angles with the jitters' edges filled
            instead of reflected; not bitwise the eager stack.
        warmup_steps: eager steps before a CUDA graph is captured (they are real steps).

    Example:
        >>> FastPath.off().resolve(torch.device("cpu")).freeze_model
        False
    """

    channels_last: bool | None = None
    autocast: str | torch.dtype | None = None
    cuda_graph: bool | None = None
    fuse_transforms: bool | None = None
    freeze_model: bool = True
    fold_batchnorm: bool | None = None
    check_finite_every: int | None = None
    warmup_steps: int = 3

    def __post_init__(self) -> None:
        for name in ("channels_last", "cuda_graph", "fuse_transforms", "fold_batchnorm"):
            check_bool(getattr(self, name), f"FastPath.{name}", optional=True)
        check_bool(self.freeze_model, "FastPath.freeze_model")
        _autocast_dtype(self.autocast)  # validates
        if self.check_finite_every is not None:
            check_int(self.check_finite_every, "FastPath.check_finite_every", minimum=1)
        check_int(self.warmup_steps, "FastPath.warmup_steps", minimum=0)

    @classmethod
    def off(cls) -> FastPath:
        """The plain loop on every device: no switch on, model gradients computed as usual."""
        return cls(
            channels_last=False,
            cuda_graph=False,
            fuse_transforms=False,
            freeze_model=False,
            fold_batchnorm=False,
        )

    @property
    def precision(self) -> Precision:
        """The precision asked for: ``"fp32"`` (no autocast), ``"bf16"`` or ``"fp16"``.

        Example:
            >>> FastPath(autocast=torch.bfloat16).precision
            'bf16'
        """
        return _precision(_autocast_dtype(self.autocast))

    def describe(self) -> dict[str, object]:
        """The settings as JSON-able values (for manifests); ``None`` means auto.

        Example:
            >>> FastPath(autocast=torch.bfloat16).describe()["autocast"]
            'bf16'
        """
        return {
            "channels_last": self.channels_last,
            "autocast": self.precision,
            "cuda_graph": self.cuda_graph,
            "fuse_transforms": self.fuse_transforms,
            "freeze_model": self.freeze_model,
            "fold_batchnorm": self.fold_batchnorm,
            "check_finite_every": self.check_finite_every,
            "warmup_steps": self.warmup_steps,
        }

    @classmethod
    def from_description(cls, description: Mapping[str, Any] | None) -> FastPath:
        """Rebuild a FastPath from :meth:`describe` (``None``: the default one).

        Example:
            >>> FastPath.from_description(FastPath(autocast="fp16").describe()).autocast
            'fp16'
        """
        if description is None:
            return cls()
        unknown = sorted(set(description) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"Unknown FastPath settings {unknown}; known: {sorted(cls.__dataclass_fields__)}."
            )
        return cls(**description)  # the values are checked by __post_init__

    def resolve(self, device: torch.device | None) -> ResolvedFastPath:
        """Decide every "auto" switch for ``device`` (``None`` means CPU).

        Raises:
            ValueError: ``cuda_graph=True`` on a device that is not CUDA.
        """
        device = torch.device("cpu") if device is None else torch.device(device)
        cuda = device.type == "cuda"
        if self.cuda_graph and not cuda:
            raise ValueError(
                f"FastPath(cuda_graph=True) needs the model on a CUDA device, but it is on "
                f"{device}. Move the model with model.cuda(), or leave cuda_graph=None."
            )
        graph = cuda if self.cuda_graph is None else self.cuda_graph
        return ResolvedFastPath(
            device=device,
            channels_last=True if self.channels_last is None else self.channels_last,
            autocast_dtype=_autocast_dtype(self.autocast),
            cuda_graph=graph,
            cuda_graph_explicit=bool(self.cuda_graph),
            fuse_transforms=True if self.fuse_transforms is None else self.fuse_transforms,
            freeze_model=self.freeze_model,
            fold_batchnorm=(
                self.freeze_model if self.fold_batchnorm is None else self.fold_batchnorm
            ),
            check_finite_every=(
                self.check_finite_every
                if self.check_finite_every is not None
                else (32 if cuda else 1)
            ),
            warmup_steps=self.warmup_steps,
        )


def _precision(dtype: torch.dtype | None) -> Precision:
    if dtype == torch.bfloat16:
        return "bf16"
    return "fp16" if dtype == torch.float16 else "fp32"


def _autocast_dtype(value: str | torch.dtype | None) -> torch.dtype | None:
    if value is None:
        return None
    if isinstance(value, torch.dtype) and value in (torch.bfloat16, torch.float16):
        return value
    if value == torch.float32:
        return None
    if isinstance(value, str) and value.lower() in _AUTOCAST_NAMES:
        return _AUTOCAST_NAMES[value.lower()]
    raise ValueError(
        f"FastPath.autocast must be None, 'fp32', 'bf16' or 'fp16' (or a torch dtype), "
        f"got {value!r}."
    )


def graph_unsafe_modules(*modules: nn.Module) -> list[str]:
    """Submodules that would not behave the same when replayed as a CUDA graph.

    A replayed graph repeats every kernel with the same arguments, so randomness drawn in
    Python or on the CPU (the eager random transforms) would be frozen at its captured value.
    A module is trusted when its class, or the instance, sets ``graph_safe = True``, or when it
    comes from ``torch`` or ``optim`` and does not set ``graph_safe = False``. Third-party
    modules must opt in with ``graph_safe = True``.

    Returns:
        ``"name (ClassName: why)"`` for each unsafe submodule; empty when everything is safe.

    Example:
        >>> from optim.transforms import RandomSpatialJitter
        >>> graph_unsafe_modules(nn.Sequential(nn.Identity(), RandomSpatialJitter(2)))
        ['1 (RandomSpatialJitter: draws its randomness on the host)']
    """
    from optim.plugins.contracts import check_graph_safe_flag

    unsafe: list[str] = []
    for root in modules:
        for name, module in root.named_modules():
            flag = check_graph_safe_flag(module)  # a non-bool flag breaks the contract
            if flag is True:
                continue
            label = f"{name or '<root>'} ({type(module).__name__}: "
            if flag is False:
                unsafe.append(label + "draws its randomness on the host)")
            elif type(module).__module__.split(".")[0] not in ("torch", "optim"):
                unsafe.append(label + "a third-party module not marked graph_safe = True)")
    return unsafe
