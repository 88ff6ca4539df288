"""Build the image parameterization and the transforms of a render from names or objects.

Names come from the plugin registry (``optim plugins``), which is what makes a render
describable in a JSON manifest; Python callers may pass classes or modules instead.

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

import torch
from torch import nn

from optim.rendering.spec import NO_TRANSFORMS

__all__ = ["NO_TRANSFORMS", "build_image", "build_transforms"]

ParameterizationSpec = str | type | nn.Module
TransformsSpec = str | nn.Module | None


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
        ValueError: the name is unknown (closest listed), or the module's output is not a
            ``[batch, C, H, W]`` image.

    Example:
        >>> build_image("pixel_image", (8, 8), 1)().shape
        torch.Size([1, 3, 8, 8])
    """
    from optim import plugins
    from optim.images import NaturalImage

    if isinstance(spec, str):
        try:
            spec = plugins.get("parameterizations", spec)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
    if isinstance(spec, nn.Module):
        image = spec
    elif isinstance(spec, type) and issubclass(spec, NaturalImage):
        image = spec(size=size, batch=batch)
    elif isinstance(spec, type) and issubclass(spec, nn.Module):
        image = NaturalImage(size=size, batch=batch, parameterization=spec)
    else:
        raise TypeError(
            "parameterization must be a registered name, an image parameterization class or "
            f"module, got {type(spec).__name__}: {spec!r}."
        )
    with torch.no_grad():
        shape = tuple(image().shape)
    if len(shape) != 4 or shape[0] != batch:
        raise ValueError(
            f"The image parameterization produces shape {list(shape)}; this render needs "
            f"[{batch}, C, H, W]. Build it with batch={batch}."
        )
    return image


def build_transforms(spec: TransformsSpec, keep_size: bool = False) -> nn.Module:
    """The transforms applied to the image before the model.

    Args:
        spec: a registered transform name built with its defaults
            (``"transformation_robustness"``), ``"none"`` or ``None`` for no transforms, or
            any ``nn.Module``.
        keep_size: build a registered transform that can crop/pad its output back to the
            input size (a ``crop_or_pad_output`` argument) with that option on. Neuron targets
            need it: their position only means something at a fixed layer size.

    Example:
        >>> type(build_transforms("transformation_robustness")).__name__
        'TransformationRobustness'
    """
    from optim import plugins

    if spec is None or spec == NO_TRANSFORMS:
        return nn.Identity()
    if isinstance(spec, nn.Module):
        return spec
    if isinstance(spec, str):
        try:
            factory = plugins.get("transforms", spec)
        except KeyError as exc:
            raise ValueError(str(exc.args[0]) + f" Or use {NO_TRANSFORMS!r}.") from None
        kwargs = {}
        if keep_size and "crop_or_pad_output" in inspect.signature(factory).parameters:
            kwargs["crop_or_pad_output"] = True
        try:
            return factory(**kwargs)
        except TypeError as exc:
            raise ValueError(
                f"The transform {spec!r} cannot be built without arguments ({exc}); build it "
                "in Python and pass the module, or use 'transformation_robustness'."
            ) from None
    raise TypeError(
        f"transforms must be a registered name, 'none', None or an nn.Module, got "
        f"{type(spec).__name__}: {spec!r}."
    )
