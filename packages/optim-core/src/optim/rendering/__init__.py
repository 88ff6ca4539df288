"""Rendering: the main job of optim, from a unit name to a PNG, a manifest and a gallery.

A :class:`RenderSpec` holds every setting of a render. ``render`` optimises an image for one
unit (``"layer:channel"``, ``"layer:channel:x:y"``), a spec or any objective;
``render_layer`` renders every channel of a layer in batches; ``run_layer_job`` and
``render_model`` render layers and whole models into resumable galleries, sharded over
``torchrun`` ranks. Every renderer runs through one
engine (:func:`optimize_image`: one seeding policy, one per-step record, one progress bar).
Manifests record the spec, so that ``optim render --spec`` reproduces a PNG bitwise on CPU;
``write_gallery`` turns a layer render into a static ``index.html``.

Example:
    A small untrained network stands in here for a real one, such as
    ``opt.models.efficientnet_lite0(pretrained=True)`` (optim-models) and its ``"_blocks.10:2"``:

    >>> import torch.nn as nn
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3)).eval()
    >>> result = opt.render(model, "2:5", size=32, steps=2, show_progress=False)
    >>> result.images.shape, result.spec.target
    (torch.Size([1, 3, 32, 32]), '2:5')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from optim.rendering.parse_target import UnitTarget, parse_target
from optim.rendering.spec import LAYER_JOB, RenderSpec

if TYPE_CHECKING:
    from optim.rendering.engine import (
        EngineRun,
        evaluate_objective,
        optimize_image,
        progress_bar,
        resolve_device,
        seeded,
    )
    from optim.rendering.gallery import write_gallery
    from optim.rendering.layer_job import run_layer_job
    from optim.rendering.layer_render import DEFAULT_BATCH_SIZE, render_layer
    from optim.rendering.manifest import (
        layer_manifest,
        read_manifest,
        render_manifest,
        write_manifest,
    )
    from optim.rendering.model_job import render_model
    from optim.rendering.model_source import DEFAULT_MODEL, ModelSource, load_registered_model
    from optim.rendering.result import LayerRenderResult, RenderResult
    from optim.rendering.unit_render import DEFAULT_LR, fast_path_of, render

# Imported on first use: the spec and target parsing above need no torch, so the CLI's
# parser (and `optim --version`) starts without importing it.
_LAZY = {
    "optim.rendering.engine": (
        "EngineRun", "evaluate_objective", "optimize_image", "progress_bar", "resolve_device",
        "seeded",
    ),
    "optim.rendering.gallery": ("write_gallery",),
    "optim.rendering.manifest": (
        "layer_manifest", "read_manifest", "render_manifest", "write_manifest",
    ),
    "optim.rendering.model_source": ("DEFAULT_MODEL", "ModelSource", "load_registered_model"),
    "optim.rendering.unit_render": ("DEFAULT_LR", "fast_path_of", "render"),
    "optim.rendering.layer_render": ("DEFAULT_BATCH_SIZE", "render_layer"),
    "optim.rendering.layer_job": ("run_layer_job",),
    "optim.rendering.model_job": ("render_model",),
    "optim.rendering.result": ("LayerRenderResult", "RenderResult"),
}  # fmt: skip
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'optim.rendering' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


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
    "render_model",
    "resolve_device",
    "run_layer_job",
    "seeded",
    "write_gallery",
    "write_manifest",
]


def __dir__() -> list[str]:
    return sorted(__all__)
