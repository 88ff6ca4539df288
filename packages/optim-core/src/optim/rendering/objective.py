"""Build the objective of a :class:`~optim.rendering.parse_target.UnitTarget` on a model.

The layer name, channel and neuron position are checked against the layer's real output shape
at the render size, so a mistake fails before any optimisation with a message that says what
the valid values are.

Example:
    >>> import torch.nn as nn
    >>> from optim.rendering.objective import unit_objective
    >>> from optim.rendering.parse_target import parse_target
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    >>> unit_objective(model, parse_target("1:5"), size=(16, 16))
    ChannelActivation
"""

from __future__ import annotations

import inspect

from torch import nn

from optim.rendering.parse_target import UnitTarget

__all__ = ["check_unit", "layer_channel_count", "layer_output", "objective_for", "unit_objective"]

Shape = tuple[int, ...]


def layer_output(model: nn.Module, layer: str, size: tuple[int, int]) -> tuple[nn.Module, Shape]:
    """The module named ``layer`` and its output shape at a ``size`` input.

    The model runs once, in eval mode, on a grey image and only up to the layer.

    Raises:
        ValueError: unknown layer (closest valid names listed), or a layer that produces no
            tensor.

    Example:
        >>> layer_output(nn.Sequential(nn.Conv2d(3, 8, 3)), "0", (16, 16))[1]
        (1, 8, 14, 14)
    """
    import torch

    from optim.hooks import collect_activations, model_device, resolve_target

    module = resolve_target(model, layer)  # unknown names fail with the closest valid ones
    probe = torch.full((1, 3, *size), 0.5, device=model_device(model) or "cpu")
    was_training = model.training
    try:
        model.eval()  # no batch-norm statistics update from the probe
        with torch.no_grad():
            output = collect_activations(model, module, probe)[module]
    except RuntimeError:
        output = None
    finally:
        model.train(was_training)
    if isinstance(output, tuple | list) and output:  # several tensors: objectives read the first
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ValueError(
            f"Layer {layer!r} did not produce a tensor during a forward pass at "
            f"{size[0]}x{size[1]} px, so it cannot be rendered; pick another layer "
            "(`optim layers MODEL` lists them with their output shapes)."
        )
    return module, tuple(output.shape)


def layer_channel_count(module: nn.Module, layer: str, shape: Shape) -> int:
    """The number of channels (dimension 1) of ``layer``'s output ``shape``.

    Example:
        >>> layer_channel_count(nn.Identity(), "0", (1, 8, 4, 4))
        8
    """
    if len(shape) < 2:
        raise ValueError(f"Layer {layer!r} outputs shape {list(shape)}, which has no channels.")
    return shape[1]


def _check_unit_shape(unit: UnitTarget, shape: Shape, size: tuple[int, int]) -> None:
    if unit.channel is None:
        return
    channels = shape[1] if len(shape) >= 2 else 0
    if not 0 <= unit.channel < channels:
        raise ValueError(
            f"Channel {unit.channel} is out of range for layer {unit.layer!r}, which has "
            f"{channels} channels: use 0..{channels - 1}."
        )
    if unit.is_neuron:
        if len(shape) != 4:
            raise ValueError(
                f"Layer {unit.layer!r} outputs shape {list(shape)}; a neuron target "
                "'layer:channel:x:y' needs a 4-D [B, C, H, W] output. Use 'layer:channel'."
            )
        height, width = shape[2], shape[3]
        if not (unit.x < width and unit.y < height):
            raise ValueError(
                f"Neuron position x={unit.x}, y={unit.y} is outside layer {unit.layer!r}, whose "
                f"output is {height} rows x {width} columns at {size[0]}x{size[1]} px: use x in "
                f"0..{width - 1} and y in 0..{height - 1}."
            )


def check_unit(model: nn.Module, unit: UnitTarget, size: tuple[int, int]) -> nn.Module:
    """Check ``unit`` against ``model`` at a ``size`` input; returns the layer module.

    Raises:
        ValueError: unknown layer (closest valid names listed), channel out of range (the
            valid range given), or a neuron position outside the layer's output.

    Example:
        >>> check_unit(nn.Sequential(nn.Conv2d(3, 4, 3)), UnitTarget("0", 9), (8, 8))
        Traceback (most recent call last):
        ...
        ValueError: Channel 9 is out of range for layer '0', which has 4 channels: use 0..3.
    """
    module, shape = layer_output(model, unit.layer, size)
    _check_unit_shape(unit, shape, size)
    return module


def objective_for(
    module: nn.Module,
    unit: UnitTarget,
    objective: str | None = None,
    batch_index: int | None = None,
):
    """The registered objective ``objective`` built for ``unit`` on the layer ``module``.

    ``objective`` defaults to ``channel_activation`` for a channel and ``neuron_activation``
    for a neuron. The objective receives the module first, then whichever of
    ``channel_index``, ``x``, ``y`` and ``batch_index`` its signature takes. No check against
    the layer's shape is made here (see :func:`check_unit`).

    Example:
        >>> objective_for(nn.ReLU(), UnitTarget("relu", 3), batch_index=1)
        ChannelActivation
    """
    from optim import plugins

    if objective is None:
        objective = "neuron_activation" if unit.is_neuron else "channel_activation"
    name = objective

    try:
        factory = plugins.get("objectives", name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    parameters = inspect.signature(factory).parameters
    if unit.is_neuron and "x" not in parameters:
        raise ValueError(f"Objective {name!r} takes no neuron position: drop ':x:y'.")
    if unit.channel is not None and "channel_index" not in parameters:
        raise ValueError(
            f"Objective {name!r} takes no channel: write the target as just {unit.layer!r}."
        )
    offered = {"channel_index": unit.channel, "x": unit.x, "y": unit.y, "batch_index": batch_index}
    kwargs = {
        key: value for key, value in offered.items() if key in parameters and value is not None
    }
    missing = [
        key
        for key, parameter in list(parameters.items())[1:]
        if parameter.default is inspect.Parameter.empty
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and key not in kwargs
    ]
    if missing == ["channel_index"]:
        raise ValueError(
            f"Objective {name!r} needs a channel: write the target as '{unit.layer}:CHANNEL'."
        )
    if missing:
        raise ValueError(
            f"Objective {name!r} needs arguments a target 'layer:channel[:x:y]' cannot give "
            f"({', '.join(missing)}); use it from Python instead."
        )
    return factory(module, **kwargs)


def unit_objective(
    model: nn.Module,
    unit: UnitTarget,
    *,
    size: tuple[int, int],
    objective: str | None = None,
    batch_index: int | None = None,
):
    """The objective maximising ``unit`` of ``model``, after checking it against the model.

    Args:
        model: the model holding ``unit.layer``.
        unit: the parsed target.
        size: the render's ``(height, width)`` (the layer's shape, hence the valid positions,
            depend on it).
        objective: a registered objective name (``optim plugins --kind objectives``); by default
            ``channel_activation`` for a channel and ``neuron_activation`` for a neuron. A
            registered objective receives the layer module first, then whichever of
            ``channel_index``, ``x``, ``y`` and ``batch_index`` its signature takes.
        batch_index: restrict the objective to one batch slot.

    Returns:
        An ``optim.loss.Loss`` targeting the layer module.

    Raises:
        ValueError: unknown layer (closest names listed), channel or position out of range
            (valid range given), or an objective that needs more than the target provides.

    Example:
        >>> unit_objective(nn.Sequential(nn.Conv2d(3, 4, 3)), UnitTarget("0", 3, 1, 1), size=(8, 8))
        NeuronActivation
    """
    module = check_unit(model, unit, size)
    return objective_for(module, unit, objective, batch_index)
