"""The optimisation loop and its stop criteria.

Example:
    >>> import torch.nn as nn
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    >>> obj = opt.InputOptimization(
    ...     model, opt.loss.ChannelActivation("0", 0), opt.images.NaturalImage((32, 32)))
    >>> history = obj.optimize(opt.optimization.n_steps(3, show_progress=False))
    >>> history.shape
    torch.Size([3])
"""

from __future__ import annotations

from optim.optimization.capture_check import HostSyncError, assert_step_capturable
from optim.optimization.fast_path import FastPath
from optim.optimization.finite_check import NotFiniteError
from optim.optimization.graphed_step import capturing_step
from optim.optimization.input_optimization import InputOptimization
from optim.optimization.run_report import RunReport
from optim.optimization.step_record import StepRecord
from optim.optimization.stop_criteria import NSteps, StopCriteria, n_steps
from optim.optimization.tensorboard import TensorBoardLogger, log_to_tensorboard

__all__ = [
    "FastPath",
    "HostSyncError",
    "InputOptimization",
    "NotFiniteError",
    "NSteps",
    "RunReport",
    "StepRecord",
    "StopCriteria",
    "TensorBoardLogger",
    "assert_step_capturable",
    "capturing_step",
    "log_to_tensorboard",
    "n_steps",
]
