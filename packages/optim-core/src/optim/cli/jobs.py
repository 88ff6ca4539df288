"""The two jobs behind the commands: a spec in, files out. ``optim render``, ``optim layer``
and ``optim render --spec`` all end here, so a re-run is the same call as the first run.

Example:
    >>> from optim.rendering import RenderSpec
    >>> result, manifest = render_job(RenderSpec(steps=8), Path("unit.png"))  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from pathlib import Path

from optim.cli.render_options import load_model, user_errors, with_fresh_seed
from optim.rendering import (
    LayerRenderResult,
    RenderResult,
    RenderSpec,
    render,
    render_layer,
    render_manifest,
    write_manifest,
)
from optim.rendering.model_source import ModelSource

__all__ = ["DEFAULT_OUT", "layer_job", "render_job", "report_render", "report_reproduction"]

DEFAULT_OUT = "render.png"
"""Where ``optim render`` writes when no ``--out`` is given."""


def render_job(
    spec: RenderSpec, out: Path, *, show_progress: bool = True, expect: ModelSource | None = None
) -> tuple[RenderResult, ModelSource, Path]:
    """Render ``spec`` into the PNG ``out`` and its manifest beside it (``.json``).

    ``expect`` is the model a manifest recorded: a warning is printed if the weights differ.
    """
    model, source = _model(spec, expect)
    with user_errors():
        result = render(model, with_fresh_seed(spec), show_progress=show_progress)
    manifest_path = out.with_suffix(".json")
    result.save(out)
    write_manifest(manifest_path, render_manifest(result, source, out, manifest_path))
    return result, source, manifest_path


def layer_job(
    spec: RenderSpec, *, show_progress: bool = True, expect: ModelSource | None = None
) -> tuple[LayerRenderResult, ModelSource]:
    """Render the channels of ``spec``'s layer; the caller writes the gallery or one PNG."""
    model, source = _model(spec, expect)
    with user_errors():
        result = render_layer(model, with_fresh_seed(spec), show_progress=show_progress)
    return result, source


def _model(spec: RenderSpec, expect: ModelSource | None):
    model, source = load_model(spec)
    if expect is not None and source.state_dict_sha256 != expect.state_dict_sha256:
        print(
            f"warning: the weights of {source.name} differ from the manifest's "
            f"({source.distribution} {source.version} now); the result may differ",
            file=sys.stderr,
        )
    return model, source


def report_render(
    result: RenderResult, source: ModelSource, out: Path, manifest_path: Path
) -> None:
    """The one line ``optim render`` prints about what it wrote."""
    print(
        f"wrote {out} and {manifest_path}: {source.name} {result.spec.target}, objective "
        f"{result.final_objective:.4g}, {len(result.history)} steps in "
        f"{result.wall_time_s:.1f} s ({result.steps_per_s:.2f} steps/s), seed {result.seed}"
    )


def report_reproduction(label: str, written: Path, expected_sha: str, actual_sha: str) -> bool:
    """Print whether ``written`` matches the manifest's sha256; returns True when it does."""
    if actual_sha == expected_sha:
        print(f"{label}: {written} is byte-identical to the original (sha256 {actual_sha[:16]}…)")
        return True
    print(
        f"{label}: {written} differs from the original (sha256 {actual_sha[:16]}… vs "
        f"{expected_sha[:16]}…); see the manifest's environment for what changed",
        file=sys.stderr,
    )
    return False
