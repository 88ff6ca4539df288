"""The two jobs behind the commands: a spec in, files out. ``optim render``, ``optim layer``
and ``optim render --spec`` all end here, so a re-run is the same call as the first run.

Outputs are never written over a file this run did not create (unless ``force``), are
written atomically, and survive Ctrl-C: an interrupted job writes what it finished and exits
with code 130; a job stopped by a non-finite objective writes its last good state and exits
with code 1.

Example:
    >>> from optim.rendering import RenderSpec
    >>> result, source, manifest = render_job(RenderSpec(steps=8), Path("unit.png"))  # doctest: +SKIP
"""  # noqa: E501

from __future__ import annotations

import sys
from pathlib import Path

from optim.cli.errors import CLIError
from optim.cli.render_options import load_model, user_errors, with_fresh_seed
from optim.optimization import NotFiniteError
from optim.rendering import (
    LayerRenderResult,
    RenderResult,
    RenderSpec,
    render,
    render_layer,
    render_manifest,
    write_manifest,
)
from optim.rendering.files import check_new
from optim.rendering.gallery import CHANNEL_DIR
from optim.rendering.model_source import ModelSource

__all__ = [
    "check_gallery_folder",
    "finish",
    "layer_job",
    "render_job",
    "report_render",
    "report_reproduction",
]

GALLERY_FILES = ("index.html", "grid.png", "manifest.json", CHANNEL_DIR)


def render_job(
    spec: RenderSpec,
    out: Path,
    *,
    show_progress: bool = True,
    expect: ModelSource | None = None,
    force: bool = False,
) -> tuple[RenderResult, ModelSource, Path]:
    """Render ``spec`` into the PNG ``out`` and its manifest beside it (``.json``).

    ``expect`` is the model a manifest recorded: a warning is printed if the weights differ.
    A render stopped by Ctrl-C or a non-finite objective is written too (see :func:`finish`).
    """
    manifest_path = out.with_suffix(".json")
    with user_errors():
        check_new([out, manifest_path], force=force)
    spec = with_fresh_seed(spec)
    model, source = _model(spec, expect)
    try:
        with user_errors():
            result = render(model, spec, show_progress=show_progress)
    except NotFiniteError as exc:
        result = exc.result  # the last good image, with the error
    result.save(out)
    write_manifest(manifest_path, render_manifest(result, source, out, manifest_path))
    return result, source, manifest_path


def layer_job(
    spec: RenderSpec, *, show_progress: bool = True, expect: ModelSource | None = None
) -> tuple[LayerRenderResult, ModelSource]:
    """Render the channels of ``spec``'s layer; the caller writes the gallery or one PNG.

    A job stopped by Ctrl-C or a non-finite objective returns the batches it finished.
    """
    spec = with_fresh_seed(spec)
    model, source = _model(spec, expect)
    try:
        with user_errors():
            result = render_layer(model, spec, show_progress=show_progress)
    except NotFiniteError as exc:
        result = exc.result
        if not result.channels:
            raise CLIError(str(exc), exit_code=1) from None
    return result, source


def check_gallery_folder(out: Path, *, force: bool = False) -> None:
    """Refuse a folder holding a gallery already, unless ``force``."""
    existing = [out / name for name in GALLERY_FILES if (out / name).exists()]
    if existing and not force:
        raise CLIError(
            f"{str(existing[0])!r} exists already (a gallery was written to {str(out)!r} "
            "before); choose another --out, or pass --force to replace that gallery."
        )


def finish(result: RenderResult | LayerRenderResult, wrote: str) -> int:
    """Exit code 0 for a finished job; otherwise a CLIError saying what stopped it and what
    was kept (exit code 1 for a non-finite objective, 130 for Ctrl-C)."""
    if result.error is not None:
        raise CLIError(f"{result.error} Kept the last good state: {wrote}.", exit_code=1)
    if result.interrupted:
        if isinstance(result, RenderResult):
            done = f"{len(result.history)} of {result.spec.steps} steps"
        else:
            done = f"{len(result.channels)} of {len(result.spec.channels)} channels"
        raise CLIError(f"interrupted after {done}; kept {wrote}.", exit_code=130)
    return 0


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
