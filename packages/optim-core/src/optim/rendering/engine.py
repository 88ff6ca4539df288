"""The render engine: the one place where an image is optimised for a renderer.

``render``, ``render_layer``, ``accentuate`` and optim-reducer's ``activation_atlas`` are thin
adapters over :func:`optimize_image`, so they share

- one seeding policy: the caller's RNG is forked, seeded with the render's seed, and everything
  random (image initialisation, transforms, their draws at every step) happens inside;
- one way to record the per-step objective: a :class:`~optim.optimization.StepRecord` filled
  inside the step (so CUDA-graph replays fill it too);
- one progress policy: one tqdm bar per job (:func:`progress_bar`), shared by its batches.

Example:
    >>> import torch.nn as nn
    >>> import optim as opt
    >>> from optim.rendering.engine import optimize_image
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    >>> run = optimize_image(
    ...     model, opt.loss.ChannelActivation("0", 1),
    ...     lambda: (opt.images.NaturalImage((16, 16)), nn.Identity()), seed=0, steps=3)
    >>> run.history.shape, run.images.shape
    (torch.Size([3]), torch.Size([1, 3, 16, 16]))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from tqdm.auto import tqdm

from optim.hooks.activations import model_device

__all__ = [
    "EngineRun",
    "available_device",
    "evaluate_objective",
    "optimize_image",
    "progress_bar",
    "resolve_device",
    "seeded",
]

Record = Literal["mean", "per_slot"]
"""What the engine records and maximises per step: the mean of the objective's value
(``"mean"``), or one value per batch slot, each slot maximised independently (``"per_slot"``:
the objective returns ``[slots]``; the slots' sum is maximised, so each slot's gradient is
that of its own render)."""


@dataclass(frozen=True)
class EngineRun:
    """What :func:`optimize_image` returns.

    Attributes:
        images: the final image batch as the image module returns it (on the render device).
        history: the recorded objective per completed step: ``[steps]`` (``"mean"``) or
            ``[steps, slots]`` (``"per_slot"``), on the CPU.
        ran: what actually ran (:meth:`~optim.optimization.RunReport.describe`): eager or
            CUDA graph, fused transforms or not, autocast, channels_last.
        wall_time_s: seconds spent optimising.
        interrupted: Ctrl-C ended the run early (``history`` has the steps that ran).
    """

    images: torch.Tensor
    history: torch.Tensor
    ran: dict[str, Any]
    wall_time_s: float
    interrupted: bool = False


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Fork torch's RNG (CPU, and ``device`` if it is a GPU), seed it, restore it on exit.

    Example:
        >>> with seeded(0):
        ...     a = torch.rand(1)
        >>> with seeded(0):
        ...     b = torch.rand(1)
        >>> bool(a == b)
        True
    """
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def progress_bar(total: int, desc: str, enabled: bool = True) -> tqdm:
    """The one progress bar of a job (``unit="step"``); close it when the job ends.

    Example:
        >>> bar = progress_bar(8, "render", enabled=False)
        >>> bar.close()
    """
    return tqdm(total=total, desc=desc, unit="step", disable=not enabled)


def available_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, checked to exist on this machine.

    Example:
        >>> available_device("cpu")
        device(type='cpu')
    """
    try:
        wanted = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"Unknown device {device!r}; use e.g. 'cpu' or 'cuda:0'.") from None
    if wanted.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here.")
    return wanted


def resolve_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """The render device: ``device``, or the model's when ``None``; the two must agree.

    Example:
        >>> resolve_device(nn.Linear(1, 1), None)
        device(type='cpu')
    """
    model_on = model_device(model)  # None for a model without parameters or buffers
    if device is None:
        return model_on or torch.device("cpu")
    wanted = available_device(device)
    if model_on is not None and (
        wanted.type != model_on.type
        or (wanted.index is not None and wanted.index != model_on.index)
    ):
        raise ValueError(
            f"The model is on {model_on} but device={device!r} was asked for: move the "
            f"model first with model.to({str(wanted)!r}), or pass device=None."
        )
    return wanted


def optimize_image(
    model: nn.Module,
    objective: Any,
    build: Callable[[], tuple[nn.Module, nn.Module | None]],
    *,
    seed: int,
    steps: int,
    lr: float = 0.05,
    device: torch.device | str | None = None,
    progress: tqdm | None = None,
    fast_path: Any = None,
    record: Record = "mean",
) -> EngineRun:
    """Seed, build the image and transforms, optimise ``steps`` Adam steps, record each step.

    Args:
        model: the network (never moved).
        objective: an ``optim.loss.Loss`` (or any callable with a ``target``).
        build: returns ``(image module, transforms module)``; called inside the seeded RNG,
            so the image's initialisation and the transforms' draws come from ``seed``.
        seed: the seed of every random draw of this run.
        steps: Adam steps (Ctrl-C stops early; the history then has the steps done).
        lr: Adam learning rate.
        device: where to render; default the model's device.
        progress: a bar to advance (see :func:`progress_bar`); ``None`` shows none.
        fast_path: an :class:`~optim.optimization.FastPath` (default: auto).
        record: ``"mean"`` or ``"per_slot"`` (see :data:`Record`).

    Returns:
        An :class:`EngineRun`. Hooks exist only during the run and are removed on every exit.
        Ctrl-C ends the run early (``EngineRun.interrupted``).

    Raises:
        NotFiniteError: the objective or its gradient became NaN/inf; the update of that
            step was not applied, and the error's ``run`` attribute holds the
            :class:`EngineRun` of the last good state.
    """
    from optim.optimization import InputOptimization, NotFiniteError, NSteps, StepRecord

    render_device = resolve_device(model, device)
    per_step = StepRecord(steps)

    def summarize(value: torch.Tensor) -> torch.Tensor:  # runs inside the (graphed) step
        if record == "per_slot":
            per_step.append(value)
            return -value.sum()
        mean = value.mean()
        per_step.append(mean)
        return -1 * mean  # exactly optim.loss.default_loss_summarize

    with seeded(seed, render_device):
        image, transforms = build()  # transforms None: InputOptimization's default
        image = image.to(render_device)
        transforms = transforms.to(render_device) if transforms is not None else None
        run = InputOptimization(model, objective, image, transforms)
        started = time.perf_counter()

        def outcome(good_steps: int | None = None) -> EngineRun:
            done = run.last_run.steps if run.last_run is not None else 0
            done = done if good_steps is None else min(done, good_steps)
            with torch.no_grad():
                images = image().detach()
            return EngineRun(
                images=images,
                history=per_step.values()[:done].cpu().as_subclass(torch.Tensor),
                ran=run.last_run.describe() if run.last_run is not None else {},
                wall_time_s=time.perf_counter() - started,
                interrupted=run.last_run is not None and run.last_run.interrupted,
            )

        try:
            with torch.enable_grad():  # renders need gradients even in a caller's no_grad()
                run.optimize(
                    stop_criteria=NSteps(steps, show_progress=False, progress=progress),
                    loss_summarize_fn=summarize,
                    lr=lr,
                    fast_path=fast_path,
                )
        except NotFiniteError as exc:
            exc.run = outcome(exc.step)  # the last good image: bad updates were never applied
            raise
        return outcome()


def evaluate_objective(
    model: nn.Module, objective: Any, images: torch.Tensor
) -> torch.Tensor | None:
    """The objective's value on ``images`` fed straight to the model (no transforms).

    Returns ``None`` when the objective reads something other than the model's layers (an
    image parameterization, a transform), which this plain forward pass does not produce.

    Example:
        >>> import optim as opt
        >>> model = nn.Sequential(nn.Conv2d(3, 1, 1, bias=False))
        >>> _ = nn.init.ones_(model[0].weight)  # the channel is R + G + B
        >>> white = torch.ones(2, 3, 4, 4)
        >>> value = evaluate_objective(model, opt.loss.ChannelActivation("0", 0), white)
        >>> value.shape, value.unique()
        (torch.Size([2, 4, 4]), tensor([3.]))
        >>> elsewhere = nn.ReLU()  # not a layer of the model: nothing to evaluate
        >>> print(evaluate_objective(model, opt.loss.ChannelActivation(elsewhere, 0), white))
        None
    """
    from optim.hooks import collect_activations
    from optim.hooks.targets import flatten_targets

    targets = flatten_targets(objective.target)
    modules = set(model.modules())
    if not targets or any(isinstance(t, nn.Module) and t not in modules for t in targets):
        return None
    with torch.no_grad():
        activations = collect_activations(model, targets, images)
        return objective(activations).detach().cpu().as_subclass(torch.Tensor)
