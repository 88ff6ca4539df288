"""Build the image parameterization and the transforms of a render from names or objects.

Names come from the plugin registry (``optim plugins``), which is what makes a render
describable in a JSON manifest; Python callers may pass classes or modules instead.

A registered name is only as usable as what a render can give its factory: a
parameterization gets ``size``, ``channels``, ``batch`` and ``init`` (through
:class:`~optim.images.NaturalImage`), a transform nothing (``crop_or_pad_output`` at most).
Each factory's signature is checked before it is called, so a name that needs more (a
``StackImage`` needs its parameterizations, a ``RandomCrop`` its crop size) is refused with
one sentence naming what it needs, and a construction that fails is a ``ValueError`` naming
the registered name.

Example:
    >>> from optim.rendering.pipeline import build_image, build_transforms
    >>> image = build_image("fft_image", size=(32, 32), batch=2)
    >>> image().shape
    torch.Size([2, 3, 32, 32])
    >>> build_transforms("none")
    Identity()
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from optim.rendering.spec import NO_TRANSFORMS

__all__ = [
    "NO_TRANSFORMS",
    "build_image",
    "build_transforms",
    "check_buildable",
    "missing_arguments",
    "qualified_name",
    "signature_parameters",
]

ParameterizationSpec = str | type | nn.Module
TransformsSpec = str | nn.Module | None

_PARAMETERIZATION_ARGUMENTS = ("size", "channels", "batch", "init")
"""What :class:`~optim.images.NaturalImage` gives a parameterization class."""

_TRANSFORM_INSTEAD = "build it in Python and pass the module, or use 'transformation_robustness'"
"""What to do instead when a registered transform cannot be built by a render."""

_TRANSFORM_PROBE = (1, 3, 224, 224)
"""The image a registered transform is tried on once (a copy of it, on the CPU)."""


def signature_parameters(factory: Any) -> Mapping[str, inspect.Parameter] | None:
    """The parameters of ``factory`` (a class: of its constructor), or ``None`` when Python
    cannot tell (some builtins).

    Example:
        >>> list(signature_parameters(nn.Conv2d))[:3]
        ['in_channels', 'out_channels', 'kernel_size']
    """
    try:
        return inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return None


def missing_arguments(parameters: Mapping[str, inspect.Parameter], given: Iterable[str]) -> list:
    """The parameters without a default that ``given`` (keyword names) does not supply.

    Example:
        >>> missing_arguments(signature_parameters(nn.Conv2d), ["in_channels"])
        ['out_channels', 'kernel_size']
    """
    given = set(given)
    required = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [
        name
        for name, parameter in parameters.items()
        if parameter.kind in required
        and parameter.default is inspect.Parameter.empty
        and (name not in given or parameter.kind is inspect.Parameter.POSITIONAL_ONLY)
    ]


def _not_accepted(parameters: Mapping[str, inspect.Parameter], given: Iterable[str]) -> list:
    """The keyword names in ``given`` that ``parameters`` cannot take."""
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    keywords = {
        name
        for name, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return [name for name in given if name not in keywords]


def qualified_name(obj: Any) -> str:
    """``"module.QualName"`` of a class or function (of the class of anything else).

    Example:
        >>> qualified_name(nn.Identity)
        'torch.nn.modules.linear.Identity'
    """
    target = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


def build_image(spec: ParameterizationSpec, size: tuple[int, int], batch: int) -> nn.Module:
    """The image module of a render: ``NaturalImage`` around the given parameterization.

    Args:
        spec: a registered parameterization name (``"fft_image"``, ``"pixel_image"``,
            ``"laplacian_image"``, ...; ``"natural_image"`` means its default), a class, or a
            ready module (used as it is; its batch must equal ``batch``).
        size: ``(height, width)`` in px.
        batch: the number of images.

    Returns:
        A module whose call returns a ``[batch, 3, H, W]`` image in [0, 1].

    Raises:
        ValueError: the name is unknown (closest listed), names a parameterization a render
            cannot build (it needs arguments a render does not give, or takes none of those it
            gives; the message says which), or its construction fails; or the module's output
            is not a ``[batch, C, H, W]`` image.
        TypeError: a class that a render cannot build (the same reasons), or not a class or
            module at all.

    Example:
        >>> build_image("pixel_image", (8, 8), 1)().shape
        torch.Size([1, 3, 8, 8])
        >>> build_image("stack_image", (8, 8), 1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The parameterization 'stack_image' needs arguments ... (parameterizations); ...
    """
    from optim import plugins
    from optim.images import NaturalImage

    name = None
    if isinstance(spec, str):
        name = spec
        try:
            spec = plugins.get("parameterizations", name)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
    if isinstance(spec, nn.Module):
        image = spec
    elif isinstance(spec, type) and issubclass(spec, nn.Module):
        whole = issubclass(spec, NaturalImage)
        given = ["size", "batch"] if whole else list(_PARAMETERIZATION_ARGUMENTS)
        _check_factory("parameterization", name, spec, given)
        try:
            if whole:
                image = spec(size=size, batch=batch)
            else:
                image = NaturalImage(size=size, batch=batch, parameterization=spec)
        except Exception as exc:
            if name is None:
                raise
            raise ValueError(
                f"The parameterization {name!r} ({qualified_name(spec)}) could not be built at "
                f"{size[0]}x{size[1]} px, batch {batch}: {type(exc).__name__}: {exc}"
            ) from exc
    elif name is not None:
        raise ValueError(
            f"The parameterization {name!r} is {qualified_name(spec)}, not an nn.Module class, "
            "so a render cannot build it; use it from Python."
        )
    else:
        raise TypeError(
            "parameterization must be a registered name, an image parameterization class or "
            f"module, got {type(spec).__name__}: {spec!r}."
        )
    try:
        with torch.no_grad():
            shape = tuple(image().shape)
    except Exception as exc:
        if name is None:
            raise
        raise ValueError(
            f"The parameterization {name!r} ({qualified_name(spec)}) failed to produce an "
            f"image: {type(exc).__name__}: {exc}"
        ) from exc
    if len(shape) != 4 or shape[0] != batch:
        raise ValueError(
            f"The image parameterization produces shape {list(shape)}; this render needs "
            f"[{batch}, C, H, W]. Build it with batch={batch}."
        )
    return image


def _check_factory(kind: str, name: str | None, factory: Any, given: list[str]) -> None:
    """Refuse ``factory`` when a render, which calls it with the keywords ``given``, cannot
    build it: it needs more, or takes some of them not at all."""
    parameters = signature_parameters(factory)
    if parameters is None:
        return  # nothing to check: the call reports its own error
    what = f"The {kind} {name!r}" if name else f"The {kind} class {qualified_name(factory)}"
    error = ValueError if name else TypeError
    instead = (
        "build the image in Python and pass the module (parameterization=...), or use 'fft_image'"
        if kind == "parameterization"
        else _TRANSFORM_INSTEAD
    )
    missing = missing_arguments(parameters, given)
    if missing:
        raise error(
            f"{what} needs arguments a render spec cannot give ({', '.join(missing)}); {instead}."
        )
    refused = _not_accepted(parameters, given)
    if refused:
        raise error(
            f"{what} cannot be built by a render: it takes no {_or(refused)} (a render gives "
            f"{kind}s {_or(given).replace(' or ', ' and ')}); {instead}."
        )


def _or(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def build_transforms(
    spec: TransformsSpec, keep_size: bool = False, fixed_size: tuple[int, int] | None = None
) -> nn.Module:
    """The transforms applied to the image before the model.

    Args:
        spec: a registered transform name built with its defaults
            (``"transformation_robustness"``), ``"none"`` or ``None`` for no transforms, or
            any ``nn.Module``.
        keep_size: build a registered transform that can crop/pad its output back to the
            input size (a ``crop_or_pad_output`` argument) with that option on. Neuron targets
            need it: their position only means something at a fixed layer size.
        fixed_size: the one ``(height, width)`` the model takes (a ViT): the output is
            centre-cropped or padded back to it, by the transform itself when it can (as
            ``keep_size``), else by a :class:`~optim.transforms.CenterCrop` after it.

    Raises:
        ValueError: the name is unknown (closest listed), or names a transform a render
            cannot build from its defaults: it needs arguments (named in the message), its
            construction fails, or it is not an ``nn.Module``. (Whether its defaults leave an
            image at all is :func:`check_buildable`'s job: it runs once per render.)

    Example:
        >>> type(build_transforms("transformation_robustness")).__name__
        'TransformationRobustness'
        >>> build_transforms(nn.Identity(), fixed_size=(224, 224))
        Sequential(
          (0): Identity()
          (1): CenterCrop()
        )
        >>> build_transforms("random_crop")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The transform 'random_crop' cannot be built without arguments: it needs ...
    """
    if fixed_size is None:
        return _build_transforms(spec, keep_size)
    built = _build_transforms(spec, keep_size=True)
    if spec is None or spec == NO_TRANSFORMS or getattr(built, "crop_or_pad_output", False):
        return built  # the size is kept already
    from optim.transforms import CenterCrop

    return nn.Sequential(built, CenterCrop(fixed_size))


def _build_transforms(spec: TransformsSpec, keep_size: bool) -> nn.Module:
    from optim import plugins

    if spec is None or spec == NO_TRANSFORMS:
        return nn.Identity()
    if isinstance(spec, nn.Module):
        return spec
    if not isinstance(spec, str):
        raise TypeError(
            f"transforms must be a registered name, 'none', None or an nn.Module, got "
            f"{type(spec).__name__}: {spec!r}."
        )
    name = spec
    try:
        factory = plugins.get("transforms", name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0]) + f" Or use {NO_TRANSFORMS!r}.") from None
    instead = _TRANSFORM_INSTEAD
    parameters = signature_parameters(factory)
    kwargs = {}
    if keep_size and parameters is not None and "crop_or_pad_output" in parameters:
        kwargs["crop_or_pad_output"] = True
    missing = missing_arguments(parameters, kwargs) if parameters is not None else []
    if missing:
        raise ValueError(
            f"The transform {name!r} cannot be built without arguments: it needs "
            f"{', '.join(missing)}, which a render spec cannot give; {instead}."
        )
    try:
        transform = factory(**kwargs)
    except Exception as exc:
        raise ValueError(
            f"The transform {name!r} ({qualified_name(factory)}) cannot be built from its "
            f"defaults: {type(exc).__name__}: {exc}; {instead}."
        ) from exc
    if not isinstance(transform, nn.Module):
        raise ValueError(
            f"The transform {name!r} builds {qualified_name(transform)}, not an nn.Module, so "
            f"a render cannot use it; {instead}."
        )
    return transform


def _check_leaves_an_image(name: str, transform: nn.Module, instead: str) -> None:
    """Refuse a transform whose defaults turn an image into nothing (``CenterCrop()`` crops
    to 0x0). It runs once on the CPU (the caller forks the RNG); a failure is left for the
    render to report (RGBA-only transforms fail on this RGB probe)."""
    try:
        with torch.no_grad():
            output = transform(torch.full(_TRANSFORM_PROBE, 0.5))
    except Exception:
        return
    if isinstance(output, torch.Tensor) and (output.dim() != 4 or output.numel() == 0):
        raise ValueError(
            f"The transform {name!r} built from its defaults turns a "
            f"{list(_TRANSFORM_PROBE)} image into {list(output.shape)}: it needs arguments a "
            f"render spec cannot give; {instead}."
        )


def check_buildable(
    parameterization: ParameterizationSpec | None,
    transforms: TransformsSpec,
    *,
    size: tuple[int, int],
    batch: int,
    keep_size: bool = False,
) -> None:
    """Raise now the ``ValueError`` that :func:`build_image` or :func:`build_transforms` would
    raise for these registered names, before anything slow (a model load, a progress bar),
    and refuse a transform whose defaults leave no image (tried once on a copy).

    Both are built once and dropped, under a forked CPU RNG: the draws a render makes later
    are unchanged. Objects (classes, modules) are not checked here.

    Example:
        >>> check_buildable("fft_image", "transformation_robustness", size=(16, 16), batch=1)
        >>> check_buildable("fft_image", "random_crop", size=(16, 16), batch=1)
        Traceback (most recent call last):
        ...
        ValueError: The transform 'random_crop' cannot be built without arguments: it needs ...
    """
    with torch.random.fork_rng(devices=[]):
        if isinstance(parameterization, str):
            build_image(parameterization, size, batch)
        if isinstance(transforms, str):
            built = build_transforms(transforms, keep_size=keep_size)
            _check_leaves_an_image(transforms, built, _TRANSFORM_INSTEAD)
