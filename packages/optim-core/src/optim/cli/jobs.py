"""The jobs behind the commands: a spec in, files out. ``optim render``, ``optim layer``,
``optim model`` and ``optim render --spec`` all end here, so a re-run is the same call as the
first run.

Outputs are written atomically and survive Ctrl-C: an interrupted job writes what it finished
and exits with code 130; a job stopped by a non-finite objective writes its last good state
and exits with code 1. A render never writes over a file this run did not create (unless
``force``); a layer job resumes its own gallery and refuses another job's folder.

Example:
    ``optim render --model tiny_cnn --random-weights 0:1 --size 32 --steps 2`` runs this, with a
    model that a plugin (here one added in-process) registered:

    >>> import tempfile
    >>> import torch.nn as nn
    >>> import optim as opt
    >>> class Zoo:
    ...     @opt.plugins.hookimpl
    ...     def register_models(self, register):
    ...         register("tiny_cnn", lambda pretrained=False: nn.Sequential(nn.Conv2d(3, 4, 3)))
    >>> zoo = Zoo()
    >>> opt.plugins.add_plugin(zoo, name="doc-jobs-zoo")
    >>> spec = RenderSpec(model="tiny_cnn", pretrained=False, target="0:1", size=32, steps=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result, source, manifest = render_job(spec, Path(tmp, "unit.png"), show_progress=False)
    ...     sorted(p.name for p in Path(tmp).iterdir()), source.name
    (['unit.json', 'unit.png'], 'tiny_cnn')
    >>> opt.plugins.remove_plugin(zoo)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optim.cli.errors import CLIError
from optim.cli.render_options import load_model, plugin_module, user_errors, with_fresh_seed
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
from optim.rendering.gallery import CHANNEL_DIR, GALLERY_FILES
from optim.rendering.layer_job import LayerJobResult
from optim.rendering.model_job import ModelJobResult
from optim.rendering.model_source import ModelSource

if TYPE_CHECKING:
    from torch import nn

    from optim.rendering.ranks import Ranks

__all__ = [
    "channels_job",
    "check_gallery_folder",
    "finish",
    "layer_exemplars",
    "layer_job",
    "model_job",
    "render_job",
    "report_layer",
    "report_render",
    "report_reproduction",
]


def render_job(
    spec: RenderSpec,
    out: Path,
    *,
    show_progress: bool = True,
    expect: ModelSource | None = None,
    force: bool = False,
    own_size: bool = False,
) -> tuple[RenderResult, ModelSource, Path]:
    """Render ``spec`` into the PNG ``out`` and its manifest beside it (``.json``).

    ``expect`` is the model a manifest recorded: a warning is printed if the weights differ.
    ``own_size``: no size was asked for, so a model that takes one size only gets it.
    A render stopped by Ctrl-C or a non-finite objective is written too (see :func:`finish`).
    """
    manifest_path = out.with_suffix(".json")
    with user_errors():
        check_new([out, manifest_path], force=force)
    spec = with_fresh_seed(spec)
    model, source, spec = _model(spec, expect, own_size)
    try:
        with user_errors():
            result = render(model, spec, show_progress=show_progress)
    except NotFiniteError as exc:
        if not isinstance(exc.result, RenderResult):  # render always attaches one
            raise
        result = exc.result  # the last good image, with the error
    result.save(out)
    write_manifest(manifest_path, render_manifest(result, source, out, manifest_path))
    return result, source, manifest_path


@contextlib.contextmanager
def _joined(spec: RenderSpec) -> Iterator[tuple[Ranks, RenderSpec]]:
    """This process in the job's ``torchrun`` process group (if launched so): the ranks and
    ``spec`` on this rank's device. Another rank's failure becomes a one-line CLIError."""
    from optim.rendering.ranks import RankFailedError, process_group

    try:
        with process_group(spec.device) as (ranks, device):
            yield ranks, spec.replace(device=device)
    except RankFailedError as exc:
        raise CLIError(str(exc)) from None


def layer_job(
    spec: RenderSpec,
    out: Path,
    *,
    show_progress: bool = True,
    expect: ModelSource | None = None,
    force: bool = False,
    exemplars: str | None = None,
    own_size: bool = False,
) -> tuple[LayerJobResult, ModelSource]:
    """Render the layer job ``spec`` into the gallery folder ``out``, resuming what an earlier
    run there finished (``force``: render everything again). Under ``torchrun`` this process
    joins the job's process group and renders its share of the batches. ``exemplars``: a
    folder of images or an exemplars file, shown beside the renders (by rank 0). ``own_size``:
    as in :func:`render_job`.
    """
    from optim.rendering.layer_job import continue_spec, run_layer_job

    with _joined(spec) as (ranks, spec):
        with user_errors():
            spec = continue_spec(out, spec, force=force, ranks=ranks)
        model, source, spec = _model(spec, expect, own_size)
        found = None
        if exemplars is not None and ranks.is_main:  # before rendering: fail early
            found = layer_exemplars(exemplars, model, spec, source, show_progress)
        with user_errors():
            job = run_layer_job(
                model, spec, out, source=source, force=force, show_progress=show_progress,
                exemplars=found,
            )  # fmt: skip
    return job, source


def model_job(
    spec: RenderSpec,
    layers: list[str] | None,
    out: Path,
    *,
    show_progress: bool = True,
    force: bool = False,
    own_size: bool = False,
) -> tuple[ModelJobResult, ModelSource]:
    """Render ``layers`` (``None``: every block) of ``spec``'s model into the site ``out``,
    resuming what an earlier run there finished; under ``torchrun``, this rank's share.
    ``own_size``: as in :func:`render_job`."""
    from optim.rendering.model_job import render_model

    with _joined(spec) as (_, spec):
        model, source, spec = _model(spec, None, own_size)
        with user_errors():
            job = render_model(
                model, layers, out, spec, source=source, force=force,
                show_progress=show_progress,
            )  # fmt: skip
    return job, source


def layer_exemplars(
    where: str, model: nn.Module, spec: RenderSpec, source: ModelSource, show_progress: bool = True
) -> Any:
    """The exemplars of ``spec``'s layer: computed from the images of the folder ``where``
    (optim-dataset's ``top_exemplars``, k = 9, 224 px), or read from an exemplars file."""
    layer = spec.unit.layer
    with user_errors():
        dataset = plugin_module("dataset")  # an ImportError naming optim-dataset if missing
        path = Path(where)
        if path.is_dir():
            return dataset.top_exemplars(
                model, layer, path, channels=spec.channels, show_progress=show_progress,
                model_name=source.name, weights_sha256=source.state_dict_sha256,
            )  # fmt: skip
        found = dataset.load_exemplars(path)
        if found.layer != layer or found.model != source.name:
            raise ValueError(
                f"{where!r} holds exemplars of {found.model} {found.layer}, not of "
                f"{source.name} {layer}; compute them with `optim exemplars {source.name} "
                f"{layer} --images DIR --out FILE`, or pass the image folder."
            )
    if found.weights_sha256 not in (None, source.state_dict_sha256):
        print(
            f"warning: {where} was computed with other weights of {source.name}; its "
            "activations (and the ratios) may not match the renders",
            file=sys.stderr,
        )
    return found


def channels_job(
    spec: RenderSpec, *, show_progress: bool = True, expect: ModelSource | None = None
) -> tuple[LayerRenderResult, ModelSource]:
    """Render the channels of ``spec``'s layer in memory (re-running one channel's batch).

    A job stopped by Ctrl-C or a non-finite objective returns the batches it finished.
    """
    spec = with_fresh_seed(spec)
    model, source, spec = _model(spec, expect)
    try:
        with user_errors():
            result = render_layer(model, spec, show_progress=show_progress)
    except NotFiniteError as exc:
        if not isinstance(exc.result, LayerRenderResult):  # render_layer always attaches one
            raise
        result = exc.result
        if not result.channels:
            raise CLIError(str(exc), exit_code=1) from None
    return result, source


def check_gallery_folder(out: Path, *, force: bool = False) -> None:
    """Refuse a folder holding a gallery already, unless ``force``."""
    existing = [out / name for name in (*GALLERY_FILES, CHANNEL_DIR) if (out / name).exists()]
    if existing and not force:
        raise CLIError(
            f"{str(existing[0])!r} exists already (a gallery was written to {str(out)!r} "
            "before); choose another --out, or pass --force to replace that gallery."
        )


def finish(
    result: RenderResult | LayerRenderResult | LayerJobResult | ModelJobResult, wrote: str
) -> int:
    """Exit code 0 for a finished job; otherwise a CLIError saying what stopped it and what
    was kept (exit code 1 for a non-finite objective, 130 for Ctrl-C)."""
    if result.error is not None:
        raise CLIError(f"{result.error} Kept the last good state: {wrote}.", exit_code=1)
    if result.interrupted:
        if isinstance(result, RenderResult):
            of_steps = f" of {result.spec.steps}" if result.spec is not None else ""
            done = f"{len(result.history)}{of_steps} steps"
        elif isinstance(result, ModelJobResult):
            done = f"{sum(j.channels_done for j in result.layers)} channels"
            wrote += "; run the same command again to finish the job"
        elif isinstance(result, LayerJobResult):
            done = f"{result.channels_done} of {len(result.channels)} channels"
            wrote += "; run the same command again to finish the job"
        else:
            asked = result.spec.channels if result.spec is not None else None
            of_asked = f" of {len(asked)}" if asked is not None else ""
            done = f"{len(result.channels)}{of_asked} channels"
        raise CLIError(f"interrupted after {done}; kept {wrote}.", exit_code=130)
    return 0


def _model(
    spec: RenderSpec, expect: ModelSource | None, own_size: bool = False
) -> tuple[nn.Module, ModelSource, RenderSpec]:
    """The model of ``spec``, its source, and ``spec`` at the model's own size if it takes one
    size only and ``own_size`` (no size was asked for)."""
    from optim.rendering.input_size import required_input_size

    model, source = load_model(spec)
    if own_size:
        with user_errors():
            spec = spec.replace(size=required_input_size(model) or spec.size)
    if expect is not None and source.state_dict_sha256 != expect.state_dict_sha256:
        print(
            f"warning: the weights of {source.name} differ from the manifest's "
            f"({source.distribution} {source.version} now); the result may differ",
            file=sys.stderr,
        )
    return model, source, spec


def report_render(
    result: RenderResult, source: ModelSource, out: Path, manifest_path: Path
) -> None:
    """The one line ``optim render`` prints about what it wrote."""
    target = result.spec.target if result.spec is not None else result.settings.get("target")
    print(
        f"wrote {out} and {manifest_path}: {source.name} {target}, objective "
        f"{result.final_objective:.4g}, {len(result.history)} steps in "
        f"{result.wall_time_s:.1f} s ({result.steps_per_s:.2f} steps/s), seed {result.seed}"
    )


def report_layer(job: LayerJobResult, source: ModelSource) -> str:
    """The one line ``optim layer`` prints about what it wrote (rank 0: the gallery's)."""
    if job.paths is None:
        raise ValueError("report_layer reports the gallery, which only rank 0 writes.")
    kept = f", {len(job.kept)} kept from an earlier run" if job.kept else ""
    speed = (
        f"; {job.wall_time_s:.1f} s, {job.channel_steps_per_s:.1f} channel-steps/s"
        if job.rendered
        else ""
    )
    return (
        f"wrote {job.paths.index} ({len(job.channels)} channels of {source.name} {job.layer}: "
        f"{len(job.rendered)} batches rendered{kept}{speed}, seed {job.spec.seed})"
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
