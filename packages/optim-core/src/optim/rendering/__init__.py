"""Rendering: the main job of optim, from a unit name to a PNG, a manifest and a gallery.

``render`` optimises an image for one unit (``"layer:channel"``, ``"layer:channel:x:y"``) or
any objective; ``render_layer`` renders every channel of a layer in batches; manifests record
every setting so that ``optim render --spec`` reproduces a PNG bitwise on CPU; ``write_gallery``
turns a layer render into a static ``index.html``.

Example:
    >>> import optim as opt
    >>> model = opt.models.efficientnet_lite0(pretrained=True).eval()  # doctest: +SKIP
    >>> opt.render(model, "_blocks.10:2", size=128, steps=128).save("unit.png")  # doctest: +SKIP
"""

from __future__ import annotations

from optim.rendering.gallery import write_gallery
from optim.rendering.manifest import (
    layer_manifest,
    read_manifest,
    render_manifest,
    write_manifest,
)
from optim.rendering.model_source import DEFAULT_MODEL, ModelSource, load_registered_model
from optim.rendering.parse_target import UnitTarget, parse_target
from optim.rendering.render import DEFAULT_LR, render
from optim.rendering.render_layer import DEFAULT_BATCH_SIZE, render_layer
from optim.rendering.result import LayerRenderResult, RenderResult

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LR",
    "DEFAULT_MODEL",
    "LayerRenderResult",
    "ModelSource",
    "RenderResult",
    "UnitTarget",
    "layer_manifest",
    "load_registered_model",
    "parse_target",
    "read_manifest",
    "render",
    "render_layer",
    "render_manifest",
    "write_gallery",
    "write_manifest",
]
