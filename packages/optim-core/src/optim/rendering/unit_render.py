"""``render``: optimise an image that maximises one unit (or any objective) of a model.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> import torch.nn as nn
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3)).eval()
    >>> result = opt.render(model, "2:5", size=32, steps=2, seed=0, show_progress=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result.save(Path(tmp, "unit.png")).name
    'unit.png'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from optim.optimization.finite_check import NotFiniteError
from optim.rendering.engine import (
    EngineRun,
    evaluate_objective,
    optimize_image,
    progress_bar,
    resolve_device,
)
from optim.rendering.input_size import check_input_size, render_size
from optim.rendering.objective import default_objective, unit_objective
from optim.rendering.pipeline import build_image, build_transforms, check_buildable
from optim.rendering.result import RenderResult
from optim.rendering.spec import CUDA_GRAPH_SETTINGS, NO_TRANSFORMS, RenderSpec, describe_object

if TYPE_CHECKING:
    from optim.optimization import FastPath

__all__ = [
    "DEFAULT_LR",
    "RenderInputs",
    "call_spec",
    "fast_path_of",
    "from_python",
    "render",
    "spec_alone",
]

DEFAULTS = RenderSpec()
DEFAULT_LR = DEFAULTS.lr
"""Adam learning rate of renders (captum's optimize() default is 0.025; see the README)."""


class RenderInputs:
    """Python objects a render uses in place of the registry names of its spec.

    ``render`` and ``render_layer`` accept objects (a Loss, a parameterization class or
    module, a transforms module); the spec then records them as ``"python:..."`` and the
    objects travel here.
    """

    def __init__(self, objective: Any = None, parameterization: Any = None, transforms: Any = None):
        self.objective = objective
        self.parameterization = parameterization
        self.transforms = transforms


def from_python(
    model: nn.Module,
    target: Any,
    *,
    spec_fields: dict[str, Any],
    parameterization: Any,
    transforms: Any,
    fast_path: FastPath | None,
) -> tuple[RenderSpec, RenderInputs]:
    """The spec (and the Python objects standing in for names) of a Python-API call.

    Example:
        >>> spec, _ = from_python(nn.Identity(), "0:1", spec_fields={}, fast_path=None,
        ...                       parameterization="fft_image", transforms=None)
        >>> spec.model, spec.transforms
        ('python:torch.nn.modules.linear.Identity', 'none')
    """
    from optim.loss import Loss
    from optim.optimization import FastPath

    inputs = RenderInputs()
    if isinstance(target, Loss):
        inputs.objective, target = target, describe_object(target)
    elif not isinstance(target, str):
        raise TypeError(
            "target must be 'layer:channel', 'layer:channel:x:y', a RenderSpec or an "
            f"optim.loss.Loss, got {type(target).__name__}: {target!r}."
        )
    if not isinstance(parameterization, str):
        _check_object("parameterization", parameterization, (type, nn.Module))
        inputs.parameterization, parameterization = (
            parameterization,
            describe_object(parameterization),
        )
    if transforms is None:
        transforms = NO_TRANSFORMS
    elif not isinstance(transforms, str):
        _check_object("transforms", transforms, (nn.Module,))
        inputs.transforms, transforms = transforms, describe_object(transforms)
    if fast_path is not None and not isinstance(fast_path, FastPath):
        raise TypeError(
            f"fast_path must be an optim.optimization.FastPath, got {type(fast_path).__name__}."
        )
    asked = fast_path or FastPath()
    graph = next(k for k, v in CUDA_GRAPH_SETTINGS.items() if v == asked.cuda_graph)
    fields = dict(spec_fields)
    fields["size"] = render_size(model, fields.get("size"), default=DEFAULTS.size)
    device = fields.pop("device", None)
    spec = RenderSpec(
        model=describe_object(model),
        target=target,
        parameterization=parameterization,
        transforms=transforms,
        precision=asked.precision,
        cuda_graph=graph,
        device=None if device is None else str(device),
        **fields,
    )
    return spec, inputs


def _check_object(name: str, value: Any, kinds: tuple[type, ...]) -> None:
    if not isinstance(value, kinds):
        raise TypeError(
            f"{name} must be a registered name or an nn.Module (class), got "
            f"{type(value).__name__}: {value!r}."
        )


def call_spec(
    function: str,
    model: nn.Module,
    target: Any,
    settings: dict[str, Any],
    *,
    parameterization: Any,
    transforms: Any,
    fast_path: FastPath | None,
) -> tuple[RenderSpec, RenderInputs, FastPath | None]:
    """The spec, the Python objects standing in for names, and the FastPath of a ``render`` or
    ``render_layer`` call: ``target`` is a RenderSpec (then nothing else may be given) or a
    target, with the keyword ``settings``."""
    if isinstance(target, RenderSpec):
        given = {**settings, "parameterization": parameterization, "transforms": transforms}
        return (
            target,
            RenderInputs(),
            spec_alone(function, target, {**given, "fast_path": fast_path}),
        )
    spec, inputs = from_python(
        model, target, spec_fields=settings, parameterization=parameterization,
        transforms=transforms, fast_path=fast_path,
    )  # fmt: skip
    return spec, inputs, fast_path


def fast_path_of(spec: RenderSpec) -> FastPath:
    """The :class:`~optim.optimization.FastPath` a spec asks for (precision, CUDA graph).

    Example:
        >>> fast_path_of(RenderSpec(precision="bf16")).autocast
        'bf16'
    """
    from optim.optimization import FastPath

    return FastPath(autocast=spec.precision, cuda_graph=CUDA_GRAPH_SETTINGS[spec.cuda_graph])


_UNSET = {
    **{name: getattr(DEFAULTS, name) for name in ("steps", "lr", "batch", "batch_size", "token")},
    **{name: getattr(DEFAULTS, name) for name in ("parameterization", "transforms")},
    **dict.fromkeys(("size", "seed", "objective", "device", "fast_path", "channels")),
}
"""The keyword arguments of ``render``/``render_layer`` as they are when not given."""


def spec_alone(function: str, spec: RenderSpec, given: dict[str, Any]) -> FastPath:
    """The FastPath of ``spec``, after checking that no other setting was ``given`` beside it
    (it would be silently ignored); raises TypeError naming them.

    Example:
        >>> spec_alone("render", RenderSpec(), {"steps": 8})
        Traceback (most recent call last):
        ...
        TypeError: render got a RenderSpec and also steps: put every setting in the spec (spec.replace(steps=...)).
    """  # noqa: E501
    changed = [name for name, value in given.items() if value != _UNSET[name]]
    if changed:
        raise TypeError(
            f"{function} got a RenderSpec and also {', '.join(changed)}: put every setting in "
            f"the spec (spec.replace({changed[0]}=...))."
        )
    return fast_path_of(spec)


def render(
    model: nn.Module,
    target: str | RenderSpec | Any,
    *,
    size: int | tuple[int, int] | None = None,
    steps: int = DEFAULTS.steps,
    lr: float = DEFAULTS.lr,
    batch: int = DEFAULTS.batch,
    seed: int | None = None,
    parameterization: str | type | nn.Module = DEFAULTS.parameterization,
    transforms: str | nn.Module | None = DEFAULTS.transforms,
    objective: str | None = None,
    token: str = DEFAULTS.token,
    device: str | torch.device | None = None,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
) -> RenderResult:
    """Render the input that maximises ``target`` of ``model``.

    Args:
        model: the network, in eval mode (a model in training mode gets a warning).
        target: ``"layer:channel"`` (a channel), ``"layer:channel:x:y"`` (the neuron at column
            x, row y) with dotted layer names from ``model.named_modules()``; a
            :class:`~optim.rendering.RenderSpec` holding every setting (then pass no other
            setting); or any ``optim.loss.Loss``.
        size: image size in px, an int or ``(height, width)``; default the model's own size
            when it takes one size only (a ViT), else 160.
        steps: Adam steps.
        lr: Adam learning rate.
        batch: images optimised together (each one maximises the objective).
        seed: seed of every random draw (init, transforms); when ``None`` one is drawn from
            torch's global RNG (``torch.manual_seed`` makes it reproducible) and recorded.
        parameterization: a registered name (``"fft_image"``, ``"pixel_image"``,
            ``"laplacian_image"``), a parameterization class (wrapped in ``NaturalImage``), or a
            ready image module whose batch equals ``batch``.
        transforms: a registered transform name, ``"none"``/``None``, or any ``nn.Module``.
        objective: a registered objective name for a text target (default
            ``channel_activation``, ``neuron_activation`` for ``layer:channel:x:y``).
        token: on a token layer (``[B, tokens, features]``): ``"patches"`` (a channel is a
            feature averaged over the patch tokens, ``x``/``y`` one patch) or ``"class"``.
        device: where to render; default the model's device (the model is never moved).
        show_progress: show a tqdm progress bar.
        fast_path: the GPU switches (:class:`~optim.optimization.FastPath`); default
            ``FastPath()``, which on CPU fuses the transforms and folds batch norms.

    Returns:
        A :class:`RenderResult` with the images, the objective per step, the final objective,
        the spec it ran (objective name and seed resolved) and what ran (``result.ran``: eager
        or CUDA graph, fused transforms). Ctrl-C ends the render early: the result then has
        ``interrupted=True`` and the steps that ran.

    Raises:
        ValueError: unknown layer (closest names listed), channel or position out of range
            (valid range given), or an invalid setting (the message names it).
        NotFiniteError: the objective or its gradient became NaN/inf; ``error.result`` is
            the :class:`RenderResult` of the last good image.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)).eval()
        >>> result = render(model, "2:7", size=32, steps=3, seed=1, show_progress=False)
        >>> result.images.shape, result.history.shape, result.seed
        (torch.Size([1, 3, 32, 32]), torch.Size([3]), 1)
        >>> render(model, "2:7:4:4", size=32, steps=1, seed=1, show_progress=False).spec.objective
        'neuron_activation'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    settings = {"size": size, "steps": steps, "lr": lr, "batch": batch, "seed": seed,
                "objective": objective, "token": token, "device": device}  # fmt: skip
    spec, inputs, fast_path = call_spec(
        "render", model, target, settings, parameterization=parameterization,
        transforms=transforms, fast_path=fast_path,
    )  # fmt: skip
    return render_spec(model, spec, inputs, show_progress=show_progress, fast_path=fast_path)


def render_spec(
    model: nn.Module,
    spec: RenderSpec,
    inputs: RenderInputs | None = None,
    *,
    show_progress: bool = True,
    fast_path: FastPath | None = None,
) -> RenderResult:
    """Run one render of ``spec`` on ``model`` (the engine behind :func:`render`)."""
    inputs = inputs or RenderInputs()
    device = resolve_device(model, spec.device)
    spec = spec.with_seed().replace(device=str(device))
    fixed_size = check_input_size(model, spec.size)  # the one size it takes, if any
    if inputs.objective is not None:
        objective, keep_size = inputs.objective, fixed_size is not None
    else:
        unit = spec.unit
        spec = spec.replace(objective=spec.objective or default_objective(unit))
        objective = unit_objective(
            model, unit, size=spec.size, objective=spec.objective, batch=spec.batch,
            token=spec.token,
        )  # fmt: skip
        # A neuron's position only means something at a fixed layer size; a ViT takes one size.
        keep_size = unit.is_neuron or fixed_size is not None
    parameterization = inputs.parameterization or spec.parameterization
    transforms = inputs.transforms or spec.transforms
    check_buildable(  # a name that cannot be built fails now, not after the progress bar
        parameterization, transforms, size=spec.size, batch=spec.batch, keep_size=keep_size
    )

    def build() -> tuple[nn.Module, nn.Module]:
        image = build_image(parameterization, spec.size, spec.batch)
        return image, build_transforms(transforms, keep_size=keep_size, fixed_size=fixed_size)

    progress = progress_bar(spec.steps, "render", show_progress)
    try:
        run = optimize_image(
            model, objective, build, seed=spec.fixed_seed, steps=spec.steps, lr=spec.lr,
            device=device, progress=progress, fast_path=fast_path,
        )  # fmt: skip
    except NotFiniteError as exc:  # the last good image goes with the error
        if isinstance(exc.run, EngineRun):  # optimize_image always attaches it
            exc.result = _result(model, objective, spec, keep_size, exc.run, error=str(exc))
        raise
    finally:
        progress.close()
    return _result(model, objective, spec, keep_size, run)


def _result(
    model: nn.Module,
    objective: Any,
    spec: RenderSpec,
    keep_size: bool,
    run: EngineRun,
    error: str | None = None,
) -> RenderResult:
    final = evaluate_objective(model, objective, run.images)
    if final is not None:
        final_objective = float(final.mean())
    else:
        final_objective = float(run.history[-1]) if len(run.history) else float("nan")
    settings = {
        **spec.to_dict(),
        "transforms_keep_size": keep_size,
        "final_objective_on": "final image" if final is not None else "last step",
    }
    return RenderResult(
        images=run.images.as_subclass(torch.Tensor).float().cpu(),
        history=run.history,
        final_objective=final_objective,
        seed=spec.fixed_seed,
        settings=settings,
        wall_time_s=run.wall_time_s,
        spec=spec,
        ran=run.ran,
        interrupted=run.interrupted,
        error=error,
    )
