"""RunReport: what an optimisation run actually did, as opposed to what its FastPath asked for.

A :class:`~optim.optimization.FastPath` says "auto" or "on"; the run may still fall back (a
transform that draws on the host, a failed capture, a stack that cannot be fused). After
:meth:`InputOptimization.optimize` returns or raises, ``InputOptimization.last_run`` holds
this report.

Example:
    >>> report = RunReport(device="cpu", eager_steps=3)
    >>> report.describe()["cuda_graph"], report.steps
    (False, 3)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

__all__ = ["Precision", "RunReport"]

# The model's precision: "fp32" (no autocast), "bf16" or "fp16".
Precision = Literal["fp32", "bf16", "fp16"]


@dataclass(frozen=True)
class RunReport:
    """The settings an optimisation run ran with, and how many steps it ran how.

    Attributes:
        device: the device of the step, e.g. ``"cpu"`` or ``"cuda:0"``.
        cuda_graph: a CUDA graph was captured and replayed (at least one replayed step).
        fused_transforms: a ``TransformationRobustness`` was replaced by its fused version.
        autocast: the model's precision: ``"fp32"`` (no autocast), ``"bf16"`` or ``"fp16"``.
        channels_last: the model ran on channels-last input and weights.
        freeze_model: the model's parameters got no gradients.
        folded_batchnorms: batch norms folded into the convolution before them for the run.
        check_finite_every: the objective was checked for NaN/inf every this many steps.
        loss_scale: the factor the objective's gradient was scaled by (1.0: none).
        eager_steps: completed steps run as Python (warm-up steps included).
        replayed_steps: completed steps replayed from the captured graph.
        interrupted: Ctrl-C (KeyboardInterrupt) ended the run before its stop criterion.
    """

    device: str = "cpu"
    cuda_graph: bool = False
    fused_transforms: bool = False
    autocast: Precision = "fp32"
    channels_last: bool = False
    freeze_model: bool = False
    folded_batchnorms: int = 0
    check_finite_every: int = 1
    loss_scale: float = 1.0
    eager_steps: int = 0
    replayed_steps: int = 0
    interrupted: bool = False

    @property
    def steps(self) -> int:
        """Every completed step, eager or replayed."""
        return self.eager_steps + self.replayed_steps

    def describe(self) -> dict[str, str | bool | int | float]:
        """The report as JSON-ready values (for manifests and logs).

        Example:
            >>> RunReport(device="cuda:0", autocast="bf16").describe()["autocast"]
            'bf16'
        """
        return asdict(self)
