"""``optim render --spec FILE``: run a render spec, or re-run a manifest and check its PNGs.

``FILE`` is either a :class:`~optim.rendering.RenderSpec` as JSON (``spec.to_json()``, or
written by hand: omitted fields take their defaults) or a manifest, whose ``"spec"`` goes
through the same job as the command that wrote it; then every PNG must come out
byte-identical.

Example:
    $ optim render --spec my_spec.json --out unit.png  # a bare RenderSpec
    $ optim render --spec out/render.json              # writes out/render.rerun.png
    $ optim render --spec gallery/channels/channel_0003.json --out c3.png
    $ optim render --spec gallery/manifest.json --out gallery-again
    $ optim render --spec gallery/manifest.json        # writes gallery/rerun/
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optim.cli.errors import CLIError
from optim.cli.jobs import (
    channels_job,
    check_gallery_folder,
    finish,
    layer_job,
    render_job,
    report_layer,
    report_render,
    report_reproduction,
)
from optim.cli.render_options import DEFAULT_OUT, check_output_dir, check_output_file, user_errors
from optim.rendering import ModelSource, RenderSpec, read_manifest
from optim.rendering.files import check_new
from optim.rendering.model_source import sha256_file
from optim.rendering.result import write_png

__all__ = ["rerun_manifest"]


def _spec(manifest: dict[str, Any], path: str) -> RenderSpec:
    if manifest.get("spec") is None:
        raise CLIError(
            f"{path} records no render spec (a render of Python objects, or a manifest from "
            "an older optim), so --spec cannot re-run it; only manifests of `optim render` / "
            "`optim layer` can be re-run."
        )
    with user_errors():
        spec = RenderSpec.from_dict(manifest["spec"])
    if not spec.rebuildable or manifest["model"] is None:
        raise CLIError(
            f"{path} was written for Python objects ({spec.model}, {spec.target}), which "
            "--spec cannot rebuild; only registered names can be re-run."
        )
    return spec


def _match_threads(manifest: dict[str, Any], spec: RenderSpec) -> None:
    """Use the manifest's CPU thread count: CPU kernels may split sums differently otherwise."""
    import torch

    threads = manifest["environment"].get("torch_threads")
    on_cpu = (spec.device or "cpu").startswith("cpu")
    if on_cpu and isinstance(threads, int) and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def _beside_manifest(manifest_path: Path, recorded: str, suffix: str) -> Path:
    """``<name>.rerun<suffix>`` in the manifest's own folder. Only the recorded file's *name*
    is used: a manifest (perhaps someone else's) never chooses where this command writes."""
    return manifest_path.parent / (Path(Path(recorded).name).stem + suffix)


def _rerun_render(
    manifest: dict[str, Any],
    spec: RenderSpec,
    manifest_path: Path,
    out: str | None,
    show: bool,
    force: bool,
) -> bool:
    default = _beside_manifest(manifest_path, manifest["outputs"]["image"], ".rerun.png")
    target = check_output_file(out or str(default))
    expect = ModelSource(**manifest["model"])
    result, _, written = render_job(spec, target, show_progress=show, expect=expect, force=force)
    finish(result, f"{target} and {written}")
    expected = manifest["outputs"]["image_sha256"]
    return report_reproduction("render", target, expected, sha256_file(target))


def _rerun_layer(
    manifest: dict[str, Any],
    spec: RenderSpec,
    manifest_path: Path,
    out: str | None,
    show: bool,
    force: bool,
) -> bool:
    single = manifest["kind"] == "layer_channel"
    if single:
        default = _beside_manifest(manifest_path, manifest["outputs"]["image"], ".rerun.png")
        target = check_output_file(out or str(default))
        with user_errors():
            check_new([target], force=force)
    else:
        target = check_output_dir(out or str(manifest_path.parent / "rerun"))
        check_gallery_folder(target, force=force)
    expect = ModelSource(**manifest["model"])
    if single:
        result, _ = channels_job(spec, show_progress=show, expect=expect)
        channel = manifest["channel"]
        if channel in result.channels:
            write_png(result.image(channel), target)
        finish(result, str(target))
        expected = manifest["outputs"]["image_sha256"]
        return report_reproduction(f"channel {channel}", target, expected, sha256_file(target))
    job, _ = layer_job(spec, target, show_progress=show, expect=expect, force=True)
    finish(job, f"the gallery {target}")
    if job.paths is None:  # another rank than 0: rank 0 compares
        return True
    same = report_reproduction(
        "grid", job.paths.grid, manifest["outputs"]["grid_sha256"], sha256_file(job.paths.grid)
    )
    for channel, image in job.paths.channel_images.items():
        expected = manifest["outputs"]["channels"][str(channel)]["image_sha256"]
        same &= report_reproduction(f"channel {channel}", image, expected, sha256_file(image))
    return same


def _bare_spec(path: str) -> RenderSpec | None:
    """The RenderSpec in ``path`` when it holds one (a JSON object of spec fields)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        values = json.loads(text)
    except (OSError, ValueError):
        return None  # read_manifest explains what is wrong with the file
    if not isinstance(values, dict) or not set(values) <= set(RenderSpec.field_names()):
        return None
    with user_errors():
        return RenderSpec.from_json(text)


def _run_spec(spec: RenderSpec, out: str | None, show: bool, force: bool) -> int:
    if spec.channels is not None:  # a layer job: a gallery
        folder = check_output_dir(out or f"gallery-{spec.unit.layer}")
        job, source = layer_job(spec, folder, show_progress=show, force=force)
        finish(job, f"the gallery {folder}")
        if job.paths is not None:
            print(report_layer(job, source))
        return 0
    target = check_output_file(out or DEFAULT_OUT)
    result, source, manifest_path = render_job(spec, target, show_progress=show, force=force)
    finish(result, f"{target} and {manifest_path}")
    report_render(result, source, target, manifest_path)
    return 0


def rerun_manifest(
    path: str, out: str | None, show_progress: bool = True, force: bool = False
) -> int:
    """Run the render spec, or re-run the manifest, at ``path``; exit code 0 when every PNG
    of a manifest is byte-identical, else 1.

    ``out`` is where the new PNG (or, for a layer manifest, the new gallery folder) goes; by
    default in the manifest's own folder (``<name>.rerun.png``, or ``rerun/`` for a gallery).
    Existing files are only replaced with ``force``.
    """
    bare = _bare_spec(path)
    if bare is not None:
        return _run_spec(bare, out, show_progress, force)
    with user_errors():
        manifest = read_manifest(path)
    spec = _spec(manifest, path)
    _match_threads(manifest, spec)
    rerun = _rerun_render if manifest["kind"] == "render" else _rerun_layer
    same = rerun(manifest, spec, Path(path), out, show_progress, force)
    return 0 if same else 1
