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
from dataclasses import dataclass

from torch import nn

from optim.loss.base import Loss
from optim.loss.layout import ActivationLayout, LayoutView
from optim.rendering.layer_layout import layer_layout
from optim.rendering.parse_target import UnitTarget
from optim.rendering.pipeline import missing_arguments, qualified_name, signature_parameters

__all__ = [
    "LayerView",
    "check_unit",
    "default_objective",
    "layer_channel_count",
    "layer_output",
    "layer_view",
    "objective_for",
    "unit_objective",
]

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
    from optim.rendering.input_size import check_input_size

    module = resolve_target(model, layer)  # unknown names fail with the closest valid ones
    check_input_size(model, size)  # a ViT at the wrong size: say which size, not a shape error
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


@dataclass(frozen=True)
class LayerView:
    """A layer as objectives see it: its module, its output shape at the render size, and the
    layout that turns that output into ``[B, C, H, W]`` (tokens and channels-last maps).

    Example:
        >>> view = layer_view(nn.Sequential(nn.Conv2d(3, 8, 3)), "0", (16, 16))
        >>> view.channels, view.layout.kind
        (8, 'channels_first')
    """

    name: str
    module: nn.Module
    shape: Shape
    layout: ActivationLayout

    @property
    def channels_first_shape(self) -> Shape:
        """The output's shape as the objectives see it."""
        return self.layout.channels_first_shape(self.shape)

    @property
    def channels(self) -> int:
        """The number of channels (features, for a token layer)."""
        return layer_channel_count(self.module, self.name, self.channels_first_shape)

    def viewed(self, loss: Loss) -> Loss:
        """``loss`` reading this layer in its layout (unchanged for ``[B, C, ...]`` layers)."""
        return loss if self.layout.is_identity else LayoutView(loss, self.layout)


def layer_view(
    model: nn.Module, layer: str, size: tuple[int, int], token: str = "patches"
) -> LayerView:
    """The :class:`LayerView` of ``layer`` at a ``size`` input; ``token="class"`` targets the
    class token of a token layer.

    Raises:
        ValueError: unknown layer (closest names listed), a size the model does not take (the
            size it needs named), a layer without a tensor output, or ``token="class"`` on a
            layer that has no class token.
    """
    module, shape = layer_output(model, layer, size)
    return LayerView(layer, module, shape, layer_layout(model, layer, shape, size, token))


def _check_unit_shape(unit: UnitTarget, view: LayerView, size: tuple[int, int]) -> None:
    if unit.channel is None:
        return
    shape, layout = view.channels_first_shape, view.layout
    channels = shape[1] if len(shape) >= 2 else 0
    if not 0 <= unit.channel < channels:
        has = (
            f"whose tokens have {channels} features"
            if layout.kind == "tokens"
            else f"which has {channels} channels"
        )
        raise ValueError(
            f"Channel {unit.channel} is out of range for layer {unit.layer!r}, {has}: use "
            f"0..{channels - 1}."
        )
    if unit.x is not None and unit.y is not None:  # a neuron
        if layout.token == "class":
            raise ValueError(
                f"The class token of layer {unit.layer!r} has no position: drop ':x:y', or "
                "target the patch tokens (token 'patches', --token patches)."
            )
        if len(shape) != 4:
            raise ValueError(
                f"Layer {unit.layer!r} outputs shape {list(view.shape)}; a neuron target "
                "'layer:channel:x:y' needs a 4-D [B, C, H, W] output (or a token layer). Use "
                "'layer:channel'."
            )
        height, width = shape[2], shape[3]
        if not (unit.x < width and unit.y < height):
            grid = "patch grid" if layout.kind == "tokens" else "output"
            raise ValueError(
                f"Neuron position x={unit.x}, y={unit.y} is outside layer {unit.layer!r}, whose "
                f"{grid} is {height} rows x {width} columns at {size[0]}x{size[1]} px: use x in "
                f"0..{width - 1} and y in 0..{height - 1}."
            )


def check_unit(
    model: nn.Module, unit: UnitTarget, size: tuple[int, int], token: str = "patches"
) -> nn.Module:
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
    view = layer_view(model, unit.layer, size, token)
    _check_unit_shape(unit, view, size)
    return view.module


def default_objective(unit: UnitTarget) -> str:
    """The objective a target gets when none is named.

    Example:
        >>> default_objective(UnitTarget("conv", 3, 1, 2)), default_objective(UnitTarget("conv", 3))
        ('neuron_activation', 'channel_activation')
    """
    return "neuron_activation" if unit.is_neuron else "channel_activation"


def objective_for(
    module: nn.Module,
    unit: UnitTarget,
    objective: str | None = None,
    batch_index: int | None = None,
    *,
    layer_shape: Shape | None = None,
    view: LayerView | None = None,
) -> Loss:
    """The registered objective ``objective`` built for ``unit`` on the layer ``module``.

    ``objective`` defaults to ``channel_activation`` for a channel and ``neuron_activation``
    for a neuron. The objective receives the module first, then whichever of
    ``channel_index``, ``x``, ``y`` and ``batch_index`` its signature takes. Its signature is
    checked before it is called: an objective that needs more than a target gives, or that
    takes no channel (or position) where the target names one, is refused with the reason.
    No check against the layer's shape is made here (see :func:`check_unit`) unless
    ``layer_shape`` is given: then the objective is evaluated once on a random activation of
    that shape (batch included), and refused if its value does not depend on the activation.
    ``view`` (a token or channels-last layer): the objective reads the layer as ``[B, C, H, W]``.

    Raises:
        ValueError: unknown objective (closest names listed), an objective the target cannot
            build (the message says why and what to write instead), one whose construction
            fails (the message names it and the error), or one whose value does not depend on
            a ``layer_shape`` activation.

    Example:
        >>> objective_for(nn.ReLU(), UnitTarget("relu", 3), batch_index=1)
        ChannelActivation
        >>> objective_for(nn.ReLU(), UnitTarget("relu"), "direction")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The objective 'direction' needs arguments ... (vec); use it from Python instead.
    """
    name = objective or default_objective(unit)
    built = _build_objective(module, unit, name, batch_index)
    if view is not None:  # a token or channels-last layer, seen as [B, C, H, W]
        built = view.viewed(built)
    if layer_shape is not None:
        _probe_objective(built, module, name, unit, layer_shape)
    return built


def _build_objective(
    module: nn.Module, unit: UnitTarget, name: str, batch_index: int | None
) -> Loss:
    from optim import plugins

    try:
        factory = plugins.get("objectives", name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    what = f"The objective {name!r}"
    parameters = signature_parameters(factory)
    if parameters is None:
        raise ValueError(
            f"{what} ({qualified_name(factory)}) has no signature to check what it takes; "
            "use it from Python instead."
        )
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    listed = list(parameters.values())
    takes_module = bool(listed) and (
        listed[0].kind in positional or listed[0].kind is inspect.Parameter.VAR_POSITIONAL
    )
    if not takes_module:
        raise ValueError(
            f"{what} ({qualified_name(factory)}) does not take the layer module as its first "
            "argument, so a target cannot build it; use it from Python instead."
        )
    rest = dict(list(parameters.items())[1:])  # after the module (or the *args taking it)
    keywords = {
        key
        for key, p in rest.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in rest.values())

    def takes(key: str) -> bool:
        return any_keyword or key in keywords

    offered = {"channel_index": unit.channel, "x": unit.x, "y": unit.y, "batch_index": batch_index}
    cannot = missing_arguments(rest, offered)
    if cannot:
        raise ValueError(
            f"{what} needs arguments a target 'layer:channel[:x:y]' cannot give "
            f"({', '.join(cannot)}); use it from Python instead."
        )
    if unit.is_neuron and not takes("x"):
        # Advise dropping ':x:y' only if that builds: otherwise its own reason is raised.
        _build_objective(module, UnitTarget(unit.layer, unit.channel), name, batch_index)
        raise ValueError(f"{what} takes no neuron position: drop ':x:y'.")
    if unit.channel is not None and not takes("channel_index"):
        _build_objective(module, UnitTarget(unit.layer), name, batch_index)  # as above
        raise ValueError(
            f"{what} takes no channel: it scores the whole layer. Write the target as just "
            f"{unit.layer!r} (`optim layer` renders one channel per image and needs an "
            "objective that takes one)."
        )
    kwargs = {key: value for key, value in offered.items() if takes(key) and value is not None}
    missing = missing_arguments(rest, kwargs)
    if missing == ["channel_index"]:
        raise ValueError(f"{what} needs a channel: write the target as '{unit.layer}:CHANNEL'.")
    if missing:
        raise ValueError(
            f"{what} needs {', '.join(missing)}, which the target {unit.layer!r} does not give; "
            "write the target as 'layer:channel:x:y'."
        )
    try:
        return factory(module, **kwargs)
    except Exception as exc:
        raise ValueError(
            f"{what} cannot be built from a target ({qualified_name(factory)} raised "
            f"{type(exc).__name__}: {exc}); use it from Python instead."
        ) from exc


def _probe_objective(
    built: object, module: nn.Module, name: str, unit: UnitTarget, shape: Shape
) -> None:
    """Refuse an objective whose value on a ``shape`` activation has no gradient."""
    if _depends_on_activation(built, module, shape) is not False:
        return  # it does, or random activations made it fail: the render reports its own errors
    images = f"{shape[0]} image" + ("s" if shape[0] != 1 else "")
    compares_images = shape[0] == 1 and _depends_on_activation(built, module, (2, *shape[1:]))
    raise ValueError(
        f"The objective {name!r} does not depend on the image when it sees {images} of "
        f"layer {unit.layer!r} (its value has no gradient), so there is nothing to optimise"
        + (
            "; it compares the images of a batch: render a batch of 2 or more, from Python."
            if compares_images
            else "; use another objective."
        )
    )


def _depends_on_activation(built: object, module: nn.Module, shape: Shape) -> bool | None:
    """Whether ``built``'s value on a random ``shape`` activation has a gradient (``None``:
    evaluating it failed, or gave no tensor). The draws come from a private generator: the
    global RNG is the render's."""
    import torch

    if not callable(built):
        return None
    generator = torch.Generator().manual_seed(0)
    activation = torch.randn(shape, generator=generator).requires_grad_()
    try:
        with torch.enable_grad():
            value = built({module: activation})
    except Exception:
        return None
    return value.requires_grad if isinstance(value, torch.Tensor) else None


def unit_objective(
    model: nn.Module,
    unit: UnitTarget,
    *,
    size: tuple[int, int],
    objective: str | None = None,
    batch_index: int | None = None,
    batch: int | None = None,
    token: str = "patches",
) -> Loss:
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
        batch: the number of images the render optimises. When given, the objective is
            evaluated once on a random activation of the layer's shape with that batch and
            refused if its value does not depend on it (``alignment`` on one image).
        token: on a token layer, ``"patches"`` (a channel is a feature averaged over the
            patch tokens, ``x``/``y`` a patch) or ``"class"`` (the class token's feature).

    Returns:
        An ``optim.loss.Loss`` targeting the layer module.

    Raises:
        ValueError: unknown layer (closest names listed), channel or position out of range
            (valid range given), an objective that needs more than the target provides, or
            one whose value does not depend on the image.

    Example:
        >>> unit_objective(nn.Sequential(nn.Conv2d(3, 4, 3)), UnitTarget("0", 3, 1, 1), size=(8, 8))
        NeuronActivation
        >>> unit_objective(nn.Sequential(nn.Conv2d(3, 4, 3)), UnitTarget("0"), size=(8, 8),
        ...                objective="alignment", batch=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The objective 'alignment' does not depend on the image when it sees 1 image ...
    """
    view = layer_view(model, unit.layer, size, token)
    _check_unit_shape(unit, view, size)
    layer_shape = None if batch is None else (batch, *view.shape[1:])
    return objective_for(
        view.module, unit, objective, batch_index, layer_shape=layer_shape, view=view
    )
