"""Re-run a manifest (``optim render --spec``) and check the PNGs come out byte-identical.

Example:
    $ optim render --spec out/render.json              # writes out/render.rerun.png
    $ optim render --spec gallery/channels/channel_0003.json --out c3.png
    $ optim render --spec gallery/manifest.json --out gallery-again
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from optim.cli.errors import CLIError
from optim.cli.render_options import (
    check_output_dir,
    check_output_file,
    load_model,
    user_errors,
)

__all__ = ["rerun_manifest"]


def _check_rebuildable(manifest: dict[str, Any], path: str) -> None:
    if manifest["model"] is None:
        raise CLIError(
            f"{path} was written for a Python model object, which --spec cannot rebuild; "
            "only manifests of registered models (optim render / optim layer) can be re-run."
        )
    for key in ("parameterization", "transforms"):
        value = str(manifest["settings"].get(key, ""))
        if value.startswith("python:"):
            raise CLIError(
                f"{path} used a Python object as {key} ({value[7:]}); --spec can only re-run "
                "registered names."
            )


def _match_threads(manifest: dict[str, Any]) -> None:
    """Use the manifest's CPU thread count: CPU kernels may split sums differently otherwise."""
    import torch

    threads = manifest["environment"].get("torch_threads")
    on_cpu = str(manifest["settings"].get("device", "cpu")).startswith("cpu")
    if on_cpu and isinstance(threads, int) and threads != torch.get_num_threads():
        torch.set_num_threads(threads)


def _load(manifest: dict[str, Any]):
    _match_threads(manifest)
    model_info = manifest["model"]
    model, source = load_model(
        model_info["name"],
        pretrained=model_info["pretrained"],
        device=manifest["settings"]["device"],
    )
    if source.state_dict_sha256 != model_info["state_dict_sha256"]:
        print(
            f"warning: the weights of {source.name} differ from the manifest's "
            f"({source.distribution} {source.version} now); the result may differ",
            file=sys.stderr,
        )
    return model, source


def _render_settings(settings: dict[str, Any]) -> dict[str, Any]:
    from optim.optimization import FastPath

    return {
        "size": tuple(settings["size"]),
        "steps": settings["steps"],
        "lr": settings["lr"],
        "seed": settings["seed"],
        "parameterization": settings["parameterization"],
        "transforms": settings["transforms"],
        "device": settings["device"],
        "fast_path": FastPath.from_description(settings.get("fast_path")),
    }


def _rerun_render(manifest, manifest_path: Path, out: str | None, show_progress: bool) -> bool:
    from optim.cli.render_cmd import report_reproduction
    from optim.rendering import render, render_manifest, write_manifest
    from optim.rendering.model_source import sha256_file
    from optim.rendering.objective import check_unit, objective_for
    from optim.rendering.parse_target import parse_target

    original = manifest_path.parent / manifest["outputs"]["image"]
    target = check_output_file(out or str(original.with_suffix(".rerun.png")))
    model, source = _load(manifest)
    settings = manifest["settings"]
    with user_errors():
        unit = parse_target(manifest["target"])
        layer = check_unit(model, unit, min(settings["size"]))
        objective = objective_for(layer, unit, settings.get("objective"))
        result = render(
            model,
            objective,
            batch=settings["batch"],
            show_progress=show_progress,
            **_render_settings(settings),
        )
    result.settings["target"] = str(unit)
    result.save(target)
    rerun_manifest_path = target.with_suffix(".json")
    write_manifest(
        rerun_manifest_path,
        render_manifest(result, source, target, rerun_manifest_path, settings.get("objective")),
    )
    expected = manifest["outputs"]["image_sha256"]
    return report_reproduction("render", target, expected, sha256_file(target))


def _rerun_layer(manifest, manifest_path: Path, out: str | None, show_progress: bool) -> bool:
    from optim.cli.render_cmd import report_reproduction
    from optim.rendering import render_layer, write_gallery
    from optim.rendering.model_source import sha256_file
    from optim.rendering.result import write_png

    settings = manifest["settings"]
    single = manifest["kind"] == "layer_channel"
    if single:
        original = manifest_path.parent / manifest["outputs"]["image"]
        target = check_output_file(out or str(original.with_suffix(".rerun.png")))
    else:
        target = check_output_dir(out or str(manifest_path.parent) + ".rerun")
    model, source = _load(manifest)
    with user_errors():
        result = render_layer(
            model,
            settings["layer"],
            settings["channels"],
            batch_size=settings["batch_size"],
            objective=settings.get("objective"),
            show_progress=show_progress,
            **_render_settings(settings),
        )
    if single:
        channel = manifest["channel"]
        write_png(result.image(channel), target)
        expected = manifest["outputs"]["image_sha256"]
        return report_reproduction(f"channel {channel}", target, expected, sha256_file(target))
    paths = write_gallery(result, target, model=source)
    same = report_reproduction(
        "grid", paths.grid, manifest["outputs"]["grid_sha256"], sha256_file(paths.grid)
    )
    for channel, image in paths.channel_images.items():
        expected = manifest["outputs"]["channels"][str(channel)]["image_sha256"]
        same &= report_reproduction(f"channel {channel}", image, expected, sha256_file(image))
    return same


def rerun_manifest(path: str, out: str | None, show_progress: bool = True) -> int:
    """Re-run the manifest at ``path``; exit code 0 when every PNG is byte-identical, else 1.

    ``out`` is where the new PNG (or, for a layer manifest, the new gallery folder) goes;
    by default beside the original with ``.rerun`` in its name.
    """
    from optim.rendering import read_manifest

    with user_errors():
        manifest = read_manifest(path)
    _check_rebuildable(manifest, path)
    manifest_path = Path(path)
    if manifest["kind"] == "render":
        same = _rerun_render(manifest, manifest_path, out, show_progress)
    else:
        same = _rerun_layer(manifest, manifest_path, out, show_progress)
    return 0 if same else 1
