"""Activation (and attribution) samples of a model over a dataset, for activation atlases."""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from optim.checks import check_int
from optim.dataset._batches import iterate_images
from optim.dataset.attribution import attribute_spatial_position
from optim.hooks import ActivationFetcher, Target, flatten_targets, resolve_target

logger = logging.getLogger(__name__)

_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-\[\]]")


def _target_name(model: nn.Module, target: Target, index: int) -> str:
    if isinstance(target, str):
        return target
    for name, module in model.named_modules():
        if module is target and name:
            return name
    return f"target{index}"


def _reached(output: torch.Tensor | None, what: str) -> torch.Tensor:
    """``output`` of ``what`` (a target), which the forward pass must have reached."""
    if output is None:
        raise ValueError(
            f"The {what} produced no output: the model's forward pass does not reach it. Give "
            "targets that the model calls."
        )
    return output


def _sample_positions(
    height: int, width: int, count: int, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random (y, x) positions, away from the border when the map allows it."""
    low_y, high_y = (1, height - 1) if height > 2 else (0, height)
    low_x, high_x = (1, width - 1) if width > 2 else (0, width)
    ys = torch.randint(low_y, high_y, (count,), generator=generator)
    xs = torch.randint(low_x, high_x, (count,), generator=generator)
    return ys, xs


def _gather(activation: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, s: int) -> torch.Tensor:
    """[B*S, C] activation vectors (image-major) at per-image positions, S samples each."""
    if activation.dim() == 2:
        return activation.repeat_interleave(s, dim=0)
    if activation.dim() != 4:
        raise ValueError(
            f"Sampling needs [N, C, H, W] or [N, C] target outputs, got shape "
            f"{tuple(activation.shape)}."
        )
    images = torch.arange(activation.shape[0], device=activation.device).repeat_interleave(s)
    return activation[images, :, ys.to(activation.device), xs.to(activation.device)]


def _position_attributions(
    activation: torch.Tensor, logits: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, s: int
) -> torch.Tensor:
    """Gradient x activation of every logit w.r.t. the target at one position per sample:
    [B*S, K] (image-major), one :func:`attribute_spatial_position` per sample index."""
    if logits.dim() != 2:
        logits = logits.flatten(1)
    rows = []
    for k in range(s):
        if activation.dim() == 4:
            batch, _, height, width = activation.shape
            mask = activation.new_zeros(batch, 1, height, width)
            images = torch.arange(batch, device=activation.device)
            mask[images, 0, ys[k::s].to(activation.device), xs[k::s].to(activation.device)] = 1
        else:
            mask = torch.ones_like(activation)
        rows.append(attribute_spatial_position(activation, logits, mask))
    return torch.stack(rows, dim=1).flatten(0, 1)


def capture_activation_samples(
    loader: Iterable[object],
    model: nn.Module,
    targets: Target | Sequence[Target],
    target_names: Sequence[str] | None = None,
    sample_dir: str | os.PathLike = "",
    num_images: int | None = None,
    samples_per_image: int = 1,
    input_device: torch.device | str = "cpu",
    collect_attributions: bool = False,
    attr_model: nn.Module | None = None,
    attr_targets: Target | Sequence[Target] | None = None,
    logit_target: Target | None = None,
    show_progress: bool = False,
    generator: torch.Generator | None = None,
) -> list[Path]:
    """Save activation vectors at random spatial positions of each image, batch by batch.

    For every batch and target, ``samples_per_image`` positions (y, x) per image are drawn
    uniformly away from the border (in [1, H - 2] when H > 2) and the [C] activation vectors
    there are saved as ``<name>_activations_<batch>.pt`` holding a [N * samples, C] tensor
    (image-major). With ``collect_attributions`` the attribution of every logit to the
    sampled position (gradient x activation at that position, i.e. ``J @ (a * mask)``) is
    saved as ``<name>_attributions_<batch>.pt`` holding [N * samples, K]. Collect all files
    of one kind with :func:`consolidate_samples`.

    Args:
        loader: yields image batches [N, C, H, W], or (images, labels) pairs.
        model: the model; put it in eval mode first.
        targets: modules or dotted names of ``model`` to sample.
        target_names: file name prefixes, one per target; default the dotted module names.
        sample_dir: folder for the .pt files (created if missing).
        num_images: stop after this many images (default: the whole loader).
        samples_per_image: positions sampled per image.
        input_device: device the batches are moved to (the model must already be there).
        collect_attributions: also save logit attributions; needs ``logit_target``.
        attr_model: model used for attributions (e.g. a copy whose max-pools are replaced by
            ``optim.model_utils.MaxPool2dRelaxed``); default ``model``.
        attr_targets: the targets inside ``attr_model``; default ``targets`` (names resolve
            in ``attr_model``; modules must then belong to it).
        logit_target: module or name of ``attr_model`` whose output holds the logits.
        show_progress: show a tqdm progress bar counting images.
        generator: random generator for the positions (default: torch's global RNG).

    Returns:
        The paths written, in order.

    Example:
        >>> import tempfile
        >>> import torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
        >>> loader = [torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)]  # two batches of two
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     paths = capture_activation_samples(
        ...         loader, model, ["1"], sample_dir=tmp, samples_per_image=3, show_progress=False)
        ...     [p.name for p in paths], torch.load(paths[0], weights_only=True).shape
        (['1_activations_0.pt', '1_activations_1.pt'], torch.Size([6, 4]))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    target_list = flatten_targets(targets)
    if not target_list:
        raise ValueError("capture_activation_samples needs at least one target.")
    modules = [resolve_target(model, t) for t in target_list]
    names = (
        [_target_name(model, t, i) for i, t in enumerate(target_list)]
        if target_names is None
        else list(target_names)
    )
    if len(names) != len(target_list):
        raise ValueError(
            f"target_names has {len(names)} names for {len(target_list)} targets; give one "
            "name per target or leave it as None."
        )
    names = [_UNSAFE_FILENAME_CHARS.sub("_", n) for n in names]
    if len(set(names)) != len(names):
        raise ValueError(f"target_names must be unique, got {names}.")
    check_int(samples_per_image, "samples_per_image", minimum=1)
    if num_images is not None:
        check_int(num_images, "num_images", minimum=1, hint="Or None for every image.")
    if model.training:
        warnings.warn(
            "capture_activation_samples: the model is in training mode (dropout and batch "
            "norm behave differently); call model.eval() first.",
            stacklevel=2,
        )

    attr_modules: list[nn.Module] = []
    logit_module: nn.Module | None = None
    if collect_attributions:
        attr_model = model if attr_model is None else attr_model
        if logit_target is None:
            raise ValueError(
                "collect_attributions=True needs logit_target, the module (or name) of the "
                "attribution model whose output holds the class logits, e.g. 'fc'."
            )
        attr_list = target_list if attr_targets is None else flatten_targets(attr_targets)
        if len(attr_list) != len(target_list):
            raise ValueError(
                f"attr_targets has {len(attr_list)} entries for {len(target_list)} targets."
            )
        attr_modules = [resolve_target(attr_model, t) for t in attr_list]
        known = set(attr_model.modules())
        for given, module in zip(attr_list, attr_modules):
            if module not in known:
                raise ValueError(
                    f"The attribution target {given!r} is not a submodule of attr_model; give "
                    "attr_targets from attr_model, or give targets as dotted names."
                )
        logit_module = resolve_target(attr_model, logit_target)

    out_dir = Path(sample_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    seen = 0
    with tqdm(
        total=num_images, disable=not show_progress, unit=" images", desc="activation samples"
    ) as bar:
        for batch_index, images in enumerate(iterate_images(loader, input_device)):
            if num_images is not None:
                images = images[: num_images - seen]
            with torch.no_grad():
                activations = ActivationFetcher(model, modules)(images)
            count = images.shape[0] * samples_per_image
            positions = []
            for name, module in zip(names, modules):
                activation = _reached(activations[module], f"target {name!r}")
                height, width = activation.shape[-2:] if activation.dim() == 4 else (1, 1)
                ys, xs = _sample_positions(height, width, count, generator)
                positions.append((ys, xs))
                path = out_dir / f"{name}_activations_{batch_index}.pt"
                torch.save(_gather(activation, ys, xs, samples_per_image).cpu(), path)
                written.append(path)
            if collect_attributions:
                assert attr_model is not None and logit_module is not None
                grad_input = images.detach().requires_grad_(True)
                with torch.enable_grad():
                    outputs = ActivationFetcher(attr_model, [*attr_modules, logit_module])(
                        grad_input
                    )
                    for name, module, (ys, xs) in zip(names, attr_modules, positions):
                        attributions = _position_attributions(
                            _reached(outputs[module], f"attribution target {name!r}"),
                            _reached(outputs[logit_module], "logit target"),
                            ys, xs, samples_per_image,
                        )  # fmt: skip
                        path = out_dir / f"{name}_attributions_{batch_index}.pt"
                        torch.save(attributions.cpu(), path)
                        written.append(path)
            seen += images.shape[0]
            bar.update(images.shape[0])
            if num_images is not None and seen >= num_images:
                break
    if seen == 0:
        raise ValueError("The loader yielded no images; give it at least one image batch.")
    logger.info("Saved %d sample files for %d images in %s", len(written), seen, out_dir)
    return written


def consolidate_samples(
    sample_dir: str | os.PathLike,
    sample_basename: str = "",
    dim: int = 0,
    num_files: int | None = None,
    show_progress: bool = False,
) -> torch.Tensor:
    """Load the sample files ``<sample_basename>_<batch>.pt`` of a folder and concatenate them.

    Files are taken in batch order (numerically, not alphabetically) and loaded with
    ``weights_only=True``. The basename must match exactly up to ``_<batch>.pt`` (so
    "mixed4c_activations" never picks up "mixed4c_relu_activations" files).

    Args:
        sample_dir: folder written by :func:`capture_activation_samples`.
        sample_basename: e.g. ``"mixed4c_relu_activations"``; "" accepts any basename as
            long as the folder holds only one.
        dim: concatenation dimension (0: samples, the layout the files use).
        num_files: use only the first ``num_files`` batches.
        show_progress: show a tqdm progress bar counting files.

    Returns:
        The concatenated [N, C] tensor.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for n in range(3):  # what capture_activation_samples writes: [N, C] each
        ...         torch.save(torch.full((2, 4), float(n)), Path(tmp, f"1_activations_{n}.pt"))
        ...     samples = consolidate_samples(tmp, "1_activations", show_progress=False)
        >>> samples.shape, samples[:, 0].tolist()
        (torch.Size([6, 4]), [0.0, 0.0, 1.0, 1.0, 2.0, 2.0])
    """
    folder = Path(sample_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"Sample folder {str(folder)!r} does not exist.")
    pattern = re.compile(
        (re.escape(sample_basename) if sample_basename else r"(?P<base>.+)") + r"_(?P<n>\d+)\.pt"
    )
    found: list[tuple[int, Path, str]] = []
    for path in folder.iterdir():
        match = pattern.fullmatch(path.name)
        if match and path.is_file():
            base = match.groupdict().get("base") or sample_basename
            found.append((int(match["n"]), path, base))
    bases = sorted({base for _, _, base in found})
    if not found:
        raise FileNotFoundError(
            f"No files named {sample_basename or '<name>'}_<batch>.pt in {str(folder)!r}. "
            "Check sample_basename (e.g. 'mixed4c_relu_activations')."
        )
    if len(bases) > 1:
        raise ValueError(
            f"{str(folder)!r} holds samples of several kinds ({', '.join(bases)}); choose one "
            "with sample_basename."
        )
    found.sort(key=lambda item: item[0])
    if num_files is not None:
        check_int(num_files, "num_files", minimum=1, hint="Or None for every file.")
        found = found[:num_files]
    tensors = []
    for _, path, _ in tqdm(found, disable=not show_progress, unit=" files", desc="consolidate"):
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(loaded, torch.Tensor):
            tensors.append(loaded)
        elif isinstance(loaded, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in loaded):
            tensors.extend(loaded)
        else:
            raise ValueError(f"{str(path)!r} holds {type(loaded).__name__}, not sample tensors.")
    return torch.cat(tensors, dim=dim)
