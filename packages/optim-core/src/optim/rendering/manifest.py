"""Run manifests: JSON files recording everything needed to reproduce a render.

A manifest is the render's spec, its environment and its outputs: the model (registry name,
distribution, weights file and sha256), the :class:`~optim.rendering.RenderSpec` that ran
(``"spec"``, seed always included), the settings derived from it, what actually ran
(``"ran"``: eager or CUDA graph, fused transforms, autocast), the package and torch versions,
the device, the final objective, the wall time and steps per second, and the sha256 of each
PNG written. ``optim render --spec manifest.json`` rebuilds the spec with
``RenderSpec.from_dict(manifest["spec"])``, re-runs it and checks the PNG bytes.

Three kinds exist: ``"render"`` (one ``optim render``), ``"layer"`` (a whole ``optim layer``
gallery) and ``"layer_channel"`` (one channel of a gallery; re-running it re-renders the batch
the channel was optimised in, so the PNG is reproduced bitwise too).

Example:
    >>> import tempfile
    >>> import torch.nn as nn
    >>> import optim as opt
    >>> from optim.rendering.manifest import read_manifest, render_manifest, write_manifest
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    >>> result = opt.render(model, "0:1", size=32, steps=2, seed=1234, show_progress=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png, json_path = result.save(Path(tmp, "render.png")), Path(tmp, "render.json")
    ...     path = write_manifest(json_path, render_manifest(result, None, png, json_path))
    ...     manifest = read_manifest(path)
    >>> manifest["kind"], manifest["settings"]["seed"], manifest["outputs"]["image"]
    ('render', 1234, 'render.png')
"""

from __future__ import annotations

import datetime as _datetime
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from optim.checks import is_int
from optim.rendering.files import write_text_atomic
from optim.rendering.layer_render import SEEDING
from optim.rendering.model_source import ModelSource, sha256_file
from optim.rendering.result import LayerRenderResult, RenderResult

if TYPE_CHECKING:
    from optim.rendering.gallery import ChannelRecord
    from optim.rendering.spec import RenderSpec

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "KINDS",
    "channel_manifest",
    "environment",
    "layer_manifest",
    "read_manifest",
    "render_manifest",
    "write_manifest",
]

FORMAT = "optim-manifest"
FORMAT_VERSION = 2
"""2: the RenderSpec (``"spec"``) and what ran (``"ran"``) are recorded."""
KINDS = ("render", "layer", "layer_channel")
# Third-party distributions a render depends on; optim-core and the optim plugin
# distributions are added from entry-point metadata by environment().
_DISTRIBUTIONS = ("torch", "torchvision", "numpy", "pillow")
_REQUIRED = ("format", "format_version", "kind", "model", "settings", "environment", "outputs")


def environment(device: str | torch.device) -> dict[str, Any]:
    """Versions and hardware a render ran with.

    ``packages`` holds optim-core, every installed distribution declaring optim entry points
    (``optim.plugins`` / ``optim.modules``: the plugins that could take part in the render)
    and torch, torchvision, numpy and pillow.

    Example:
        >>> environment("cpu")["torch"] == torch.__version__
        True
    """
    from optim.plugins import plugin_distributions

    device = torch.device(device)
    packages: dict[str, str] = {}
    for dist in ("optim-core", *plugin_distributions(), *_DISTRIBUTIONS):
        try:
            packages.setdefault(dist, metadata.version(dist))
        except metadata.PackageNotFoundError:
            continue
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    )
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "packages": packages,
        "device": str(device),
        "device_name": device_name or platform.machine(),
    }


def _header(kind: str, model: ModelSource | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "created": _datetime.datetime.now(_datetime.UTC).isoformat(timespec="seconds"),
        "model": model.as_dict() if model is not None else None,
    }


def _relative(path: str | os.PathLike[str], manifest_dir: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), manifest_dir.resolve())).as_posix()


def _run(manifest: dict[str, Any], result: RenderResult | LayerRenderResult, spec: Any) -> None:
    """The spec (as JSON) and what ran, from the result: nothing is re-derived here."""
    manifest["settings"] = dict(result.settings)
    manifest["spec"] = spec.to_dict() if spec is not None else None
    manifest["ran"] = dict(result.ran)
    manifest["environment"] = environment(result.settings["device"])


def render_manifest(
    result: RenderResult,
    model: ModelSource | None,
    image_path: str | os.PathLike[str],
    manifest_path: str | os.PathLike[str],
) -> dict[str, Any]:
    """The manifest of one render whose PNG was written to ``image_path``.

    Args:
        result: what :func:`~optim.rendering.render` returned.
        model: the registered model's :class:`ModelSource` (``None`` for a Python object,
            which makes the manifest descriptive only: ``--spec`` cannot rebuild the model).
        image_path: the PNG already written.
        manifest_path: where the manifest will be written (paths are stored relative to it).

    Example:
        >>> import tempfile
        >>> import torch.nn as nn
        >>> from optim.rendering import render
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
        >>> result = render(model, "0:1", size=32, steps=3, seed=0, show_progress=False)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     png = result.save(Path(tmp, "a.png"))
        ...     manifest = render_manifest(result, None, png, Path(tmp, "a.json"))
        >>> manifest["target"], manifest["model"], manifest["result"]["steps_run"]
        ('0:1', None, 3)
        >>> manifest["spec"] == result.spec.to_dict()
        True
    """
    manifest = _header("render", model)
    manifest["target"] = result.settings["target"]
    _run(manifest, result, result.spec)
    history = result.history
    manifest["result"] = {
        "final_objective": result.final_objective,
        "steps_run": len(history),  # fewer than the spec's steps when stopped early
        "interrupted": result.interrupted,
        "error": result.error,
        "objective_first_step": float(history[0]) if len(history) else None,
        "objective_last_step": float(history[-1]) if len(history) else None,
        "wall_time_s": round(result.wall_time_s, 4),
        "steps_per_s": round(result.steps_per_s, 3),
    }
    manifest["outputs"] = {
        "image": _relative(image_path, Path(manifest_path).parent),
        "image_sha256": sha256_file(image_path),
    }
    return manifest


def layer_manifest(
    spec: RenderSpec,
    records: list[ChannelRecord],
    model: ModelSource | None,
    grid_path: str | os.PathLike[str],
    manifest_path: str | os.PathLike[str],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The manifest of a whole layer job (``optim layer``), from its channels' records.

    ``summary`` holds ``batches`` (those finished), ``rendered`` (those this run rendered; the
    others were kept from an earlier run), ``seconds`` (optimising, all batches), and
    ``interrupted``/``error``.

    Example:
        >>> import tempfile
        >>> import torch.nn as nn
        >>> from optim.rendering import render_layer
        >>> from optim.rendering.gallery import write_channels
        >>> model = nn.Sequential(nn.Conv2d(3, 2, 3)).eval()
        >>> result = render_layer(model, "0", size=32, steps=2, show_progress=False)
        >>> summary = {"batches": result.batches, "rendered": result.batches, "seconds": 0.5,
        ...            "interrupted": False, "error": None}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     records = list(write_channels(result, tmp).values())
        ...     grid, path = result.save(Path(tmp, "grid.png")), Path(tmp, "manifest.json")
        ...     manifest = layer_manifest(result.spec, records, None, grid, path, summary)
        >>> manifest["kind"], manifest["target"], manifest["result"]["complete"]
        ('layer', '0', True)
        >>> manifest["outputs"]["channels"]["1"]["image"]
        'channels/channel_0001.png'
    """
    base = Path(manifest_path).parent
    manifest = _header("layer", model)
    manifest["target"] = spec.unit.layer
    manifest["settings"] = {**spec.to_dict(), "layer": spec.unit.layer}
    manifest["spec"] = spec.to_dict()
    manifest["ran"] = dict(records[0].manifest.get("ran", {})) if records else {}
    manifest["environment"] = environment(spec.device or "cpu")
    seconds = summary["seconds"]
    steps, channel_steps = spec.steps * len(summary["batches"]), spec.steps * len(records)
    manifest["result"] = {
        "final_objectives": {str(r.channel): r.final_objective for r in records},
        "batches": summary["batches"],  # the batches that finished
        "rendered_batches": summary["rendered"],  # by this run; the rest were kept
        "complete": len(records) == len(spec.channels or ()),
        "interrupted": summary["interrupted"],
        "error": summary["error"],
        "wall_time_s": round(seconds, 4),
        "steps_per_s": round(steps / seconds, 3) if seconds else None,
        "channel_steps_per_s": round(channel_steps / seconds, 3) if seconds else None,
    }
    if summary.get("exemplar_ratios"):
        manifest["result"]["exemplar_ratios"] = summary["exemplar_ratios"]
    manifest["outputs"] = {
        "grid": _relative(grid_path, base),
        "grid_sha256": sha256_file(grid_path),
        "channels": {
            str(r.channel): {
                "image": _relative(r.image, base),
                "image_sha256": r.manifest["outputs"]["image_sha256"],
            }
            for r in records
        },
    }
    return manifest


def channel_manifest(
    result: LayerRenderResult,
    model: ModelSource | None,
    channel: int,
    image_path: str | os.PathLike[str],
    manifest_path: str | os.PathLike[str],
) -> dict[str, Any]:
    """The manifest of one channel of a layer render.

    It records the batch the channel was optimised in (``settings.channels``, and the spec of
    exactly that batch), since re-running that batch is what reproduces the PNG bitwise.

    Example:
        >>> import tempfile
        >>> import torch.nn as nn
        >>> from optim.rendering import render_layer
        >>> from optim.rendering.result import write_png
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
        >>> result = render_layer(
        ...     model, "0", [0, 1, 2], batch_size=2, size=32, steps=2, show_progress=False)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     png = write_png(result.image(2), Path(tmp, "c2.png"))
        ...     manifest = channel_manifest(result, None, 2, png, Path(tmp, "c2.json"))
        >>> manifest["target"], manifest["settings"]["channels"], manifest["spec"]["channels"]
        ('0:2', [2], [2])
    """
    index_of_batch = next(i for i, b in enumerate(result.batches) if channel in b)
    batch = result.batches[index_of_batch]
    index = result.channels.index(channel)
    manifest = _header("layer_channel", model)
    manifest["target"] = f"{result.layer}:{channel}"
    spec = result.spec.for_batch(batch) if result.spec else None
    _run(manifest, result, spec)
    manifest["settings"].update(channels=batch, batch_size=len(batch))
    manifest["channel"] = channel
    manifest["seeding"] = SEEDING  # how the channel's start image and draws were seeded
    seconds = result.batch_wall_times_s
    manifest["result"] = {
        "final_objective": result.final_objectives[index],
        "objective_first_step": float(result.history[0, index]),
        "objective_last_step": float(result.history[-1, index]),
        "wall_time_s_batch": round(seconds[index_of_batch], 4) if seconds else None,
    }
    manifest["outputs"] = {
        "image": _relative(image_path, Path(manifest_path).parent),
        "image_sha256": sha256_file(image_path),
    }
    return manifest


def write_manifest(path: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` as indented JSON, atomically; returns the path.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     print(write_manifest(Path(tmp, "out", "m.json"), {"kind": "render"}).read_text())
        {
          "kind": "render"
        }
        <BLANKLINE>
    """
    path = Path(path)
    write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a manifest written by :func:`write_manifest`.

    Raises:
        ValueError: the file is missing, not JSON, not an optim manifest, of a newer format
            version, or lacks a required field; the message says which.

    Example:
        A manifest written by optim reads back (see the module's example); anything else
        is refused:

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     read_manifest(write_manifest(Path(tmp, "m.json"), {"kind": "render"}))
        Traceback (most recent call last):
        ...
        ValueError: '.../m.json' is not an optim manifest (no "format": "optim-manifest"); ...
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"Cannot read manifest {str(path)!r}: {exc.strerror or exc}.") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}); pass a manifest "
            "written by `optim render` or `optim layer`."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(
            f'{str(path)!r} is not an optim manifest (no "format": "{FORMAT}"); pass the '
            ".json written beside a PNG by `optim render` or `optim layer`."
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} has format_version {version!r}; this optim reads up to "
            f"{FORMAT_VERSION}. Upgrade optim-core."
        )
    missing = [key for key in _REQUIRED if key not in manifest]
    if missing:
        raise ValueError(f"Manifest {str(path)!r} lacks the field(s) {', '.join(missing)}.")
    if manifest["kind"] not in KINDS:
        raise ValueError(
            f"Manifest {str(path)!r} has unknown kind {manifest['kind']!r}; "
            f"known: {', '.join(KINDS)}."
        )
    problem = _shape_problem(manifest)
    if problem:
        raise ValueError(
            f"Manifest {str(path)!r} is damaged: {problem}. Re-create it with `optim render` "
            "or `optim layer` (a manifest is written by optim, not by hand)."
        )
    return manifest


_Fields = dict[str, tuple[type, ...]]  # field -> the types its value may have
_STR, _OPT_STR = (str,), (str, type(None))
_MODEL_FIELDS: _Fields = {
    "name": _STR,
    "pretrained": (bool,),
    "distribution": _STR,
    "version": _STR,
    "weights_file": _OPT_STR,
    "weights_sha256": _OPT_STR,
    "state_dict_sha256": _STR,
}
_OUTPUT_FIELDS: dict[str, _Fields] = {
    "render": {"image": _STR, "image_sha256": _STR},
    "layer_channel": {"image": _STR, "image_sha256": _STR},
    "layer": {"grid": _STR, "grid_sha256": _STR, "channels": (dict,)},
}


def _shape_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with the nested fields that re-running relies on, or ``None``."""

    def fields(where: str, value: Any, expected: _Fields) -> str | None:
        if not isinstance(value, dict):
            return f"{where} must be an object, got {value!r}"
        for key, kinds in expected.items():
            if key not in value:
                return f"{where} lacks {key!r}"
            if not isinstance(value[key], kinds):
                names = " or ".join(k.__name__ for k in kinds)
                return f"{where}.{key} must be {names}, got {value[key]!r}"
        return None

    kind = manifest["kind"]
    checks: list[tuple[str, Any, _Fields]] = [
        ("settings", manifest["settings"], {}),
        ("environment", manifest["environment"], {}),
        ("outputs", manifest["outputs"], _OUTPUT_FIELDS[kind]),
    ]
    if manifest["model"] is not None:
        checks.append(("model", manifest["model"], _MODEL_FIELDS))
    if manifest.get("spec") is not None:
        checks.append(("spec", manifest["spec"], {}))
    for where, value, expected in checks:
        problem = fields(where, value, expected)
        if problem:
            return problem
    if kind == "layer":
        for channel, entry in manifest["outputs"]["channels"].items():
            problem = fields(f"outputs.channels.{channel}", entry, _OUTPUT_FIELDS["render"])
            if problem:
                return problem
    if kind == "layer_channel" and not is_int(manifest.get("channel")):
        return f"channel must be an int, got {manifest.get('channel')!r}"
    return None
