"""Rendering: the main job of optim, from a unit name to a PNG, a manifest and a gallery.

A :class:`RenderSpec` holds every setting of a render. ``render`` optimises an image for one
unit (``"layer:channel"``, ``"layer:channel:x:y"``), a spec or any objective;
``render_layer`` renders every channel of a layer in batches. Every renderer runs through one
engine (:func:`optimize_image`: one seeding policy, one per-step record, one progress bar).
Manifests record the spec, so that ``optim render --spec`` reproduces a PNG bitwise on CPU;
``write_gallery`` turns a layer render into a static ``index.html``.

Example:
    >>> import optim as opt
    >>> model = opt.models.efficientnet_lite0(pretrained=True).eval()  # doctest: +SKIP
    >>> opt.render(model, "_blocks.10:2", size=128, steps=128).save("unit.png")  # doctest: +SKIP
"""

from __future__ import annotations

from optim.rendering.engine import (
    EngineRun,
    evaluate_objective,
    optimize_image,
    progress_bar,
    resolve_device,
    seeded,
)
from optim.rendering.gallery import write_gallery
from optim.rendering.manifest import (
    layer_manifest,
    read_manifest,
    render_manifest,
    write_manifest,
)
from optim.rendering.model_source import DEFAULT_MODEL, ModelSource, load_registered_model
from optim.rendering.parse_target import UnitTarget, parse_target
from optim.rendering.render import DEFAULT_LR, fast_path_of, render
from optim.rendering.render_layer import DEFAULT_BATCH_SIZE, render_layer
from optim.rendering.result import LayerRenderResult, RenderResult
from optim.rendering.spec import LAYER_JOB, RenderSpec

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LR",
    "DEFAULT_MODEL",
    "LAYER_JOB",
    "EngineRun",
    "LayerRenderResult",
    "ModelSource",
    "RenderResult",
    "RenderSpec",
    "UnitTarget",
    "evaluate_objective",
    "fast_path_of",
    "layer_manifest",
    "load_registered_model",
    "optimize_image",
    "parse_target",
    "progress_bar",
    "read_manifest",
    "render",
    "render_layer",
    "render_manifest",
    "resolve_device",
    "seeded",
    "write_gallery",
    "write_manifest",
]
