"""timm models by name (``timm/<name>``), with random weights or cached files — never a download.

``pip install 'optim-models[timm]'`` adds timm. optim-models registers the ``timm`` namespace
with :func:`resolve`, so any timm architecture resolves through the registry
(``optim layers timm/vit_tiny_patch16_224``, ``opt.models.get_model("timm/resnet50")``).
Pretrained weights are read from the local Hugging Face cache (where ``timm`` itself puts them)
or the torch hub cache, or from ``model_path``; a missing file is an error that says where to
put it. With weights, timm's own preprocessing (mean/std) becomes the model's input transform;
a model with a fixed patch grid (ViT, Swin) takes its one input size (``optim`` reads it).

Example:
    >>> model = timm_model("resnet18")  # random weights: nothing is downloaded
    >>> type(model).__name__, type(model.layer4).__name__
    ('ResNet', 'Sequential')
"""

from __future__ import annotations

import difflib
import functools
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from optim.models.input_normalization import normalize_input
from optim.models.layer_options import replace_activations
from optim.models.weights import (
    WeightsMismatchError,
    WeightsUnavailableError,
    hub_cache_path,
    load_state_dict,
)

__all__ = ["TIMM_NAMESPACE", "TIMM_PIP", "names", "resolve", "timm_model", "timm_weights_file"]

TIMM_NAMESPACE = "timm"
TIMM_PIP = "pip install 'optim-models[timm]'"
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")
"""The weight files of a timm Hugging Face repository, in the order timm reads them."""


def _timm() -> ModuleType:
    try:
        import timm
    except ImportError:
        raise ImportError(
            f"timm models need the timm package, which is not installed: {TIMM_PIP}"
        ) from None
    return timm


def _check_name(name: str) -> str:
    """``name`` without a ``timm/`` prefix, or a LookupError listing the closest names."""
    timm = _timm()
    if name.startswith(f"{TIMM_NAMESPACE}/"):
        name = name[len(TIMM_NAMESPACE) + 1 :]
    architecture, _, tag = name.partition(".")
    if not timm.is_model(architecture):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        hint = f" Closest names: {', '.join(close)}." if close else ""
        raise LookupError(
            f'timm has no model {name!r}.{hint} `python -c "import timm; '
            f"print(timm.list_models('*vit*'))\"` lists names by pattern."
        )
    if tag:
        tagged = timm.list_pretrained(f"{architecture}.*")
        if name not in tagged:
            known = f"its tags: {', '.join(tagged)}" if tagged else "it has no pretrained tags"
            raise LookupError(
                f"timm has no pretrained tag {tag!r} for {architecture!r}; {known} (or no tag "
                "for the default)."
            )
    return name


def resolve(name: str) -> Any:
    """The factory of ``timm/<name>`` (the registry calls it with ``pretrained=``).

    Raises:
        LookupError: timm is not installed (the pip command to run), or has no such model
            (the closest names listed).

    Example:
        >>> resolve("resnet18").func.__name__
        'timm_model'
        >>> resolve("resnet_18")
        Traceback (most recent call last):
        ...
        LookupError: timm has no model 'resnet_18'. Closest names: resnet18, ...
    """
    try:
        checked = _check_name(name)
    except ImportError as exc:
        raise LookupError(str(exc)) from None
    factory = functools.partial(timm_model, checked)
    functools.update_wrapper(factory, timm_model)
    return factory


def names() -> list[str]:
    """The architectures timm offers (what follows ``timm/``); empty without timm."""
    try:
        return list(_timm().list_models())
    except ImportError:
        return []


def timm_weights_file(name: str) -> tuple[Path | None, str]:
    """The cached weights file of timm's ``name`` (``None`` when absent) and where it belongs.

    Looked up in the Hugging Face cache (``$HF_HUB_CACHE``, default
    ``~/.cache/huggingface/hub``) for the model's ``hf_hub_id``, then in the torch hub cache
    for its ``url``.
    """
    timm = _timm()
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None, f"timm has no pretrained weights for {name!r}"
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.constants import HF_HUB_CACHE

        for filename in _HUB_FILES:
            found = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(found, str):
                return Path(found), ""
        where = (
            f"the Hugging Face cache {HF_HUB_CACHE} (on a machine with internet: `hf download "
            f"{cfg.hf_hub_id} {_HUB_FILES[0]}`, then copy its models--"
            f"{cfg.hf_hub_id.replace('/', '--')} folder there)"
        )
        return None, where
    if cfg.url and cfg.url.endswith((".pth", ".pt", ".bin")):
        path = hub_cache_path(cfg.url)
        return (path if path.is_file() else None), f"{path} (download {cfg.url})"
    return None, f"timm publishes {name!r} weights in a form optim does not read ({cfg.url})"


def _with_weights(
    timm: Any, name: str, path: Path, remedy: str | None, kwargs: dict[str, Any]
) -> nn.Module:
    """timm's ``name`` with the state dict in ``path``, loaded the way timm loads its own files
    (its per-model key conversion, a new classifier for another ``num_classes``)."""
    state_dict = load_state_dict(model_path=path, remedy=remedy)  # an unreadable file: named
    overlay = {"state_dict": state_dict}
    try:
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    except RuntimeError as exc:  # load_state_dict's missing/unexpected keys, shape mismatches
        detail = " ".join(str(exc).split())
        raise WeightsMismatchError(
            f"The weights in {path} do not fit timm's {name}: {detail[:400]} "
            f"{remedy or 'Pass the state dict of this architecture.'}"
        ) from None
    model.weights_file = str(path)  # recorded in run manifests (and hashed)
    return model


def timm_model(
    name: str,
    pretrained: bool = False,
    progress: bool = True,
    model_path: str | os.PathLike | None = None,
    transform_input: bool | None = None,
    replace_relus_with_redirectedrelu: bool = False,
    use_linear_modules_only: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build timm's ``name``; layer names stay timm's (``blocks.11`` of a ViT).

    Args:
        name: a timm model name, optionally with a pretrained tag
            (``"vit_tiny_patch16_224.augreg_in21k_ft_in1k"``); a ``"timm/"`` prefix is accepted.
        pretrained: load the weights from the local cache only (see
            :func:`timm_weights_file`); without the file it fails saying where to put it.
        progress: unused (kept for the zoo's factory signature).
        model_path: a local state dict (``.pth``, ``.bin`` or ``.safetensors``) to load instead.
        transform_input: normalise RGB in [0, 1] with timm's mean/std for the model through a
            forward pre-hook; defaults to True exactly when weights are loaded.
        replace_relus_with_redirectedrelu: replace ``nn.ReLU`` modules with
            :class:`RedirectedReluLayer`.
        use_linear_modules_only: ``nn.ReLU`` -> :class:`SkipLayer`, ``nn.MaxPool2d`` ->
            ``nn.AvgPool2d``.
        **kwargs: passed to ``timm.create_model`` (e.g. ``num_classes``: with weights, the
            classifier is then new, as timm does).

    Raises:
        ImportError: timm is not installed (the pip command to run).
        LookupError: timm has no such model (closest names listed).
        WeightsUnavailableError: ``pretrained`` and no cached file (says where to put it).

    Example:
        >>> model = timm_model("vit_tiny_patch16_224")
        >>> model.required_input_size
        (224, 224)
    """
    del progress
    timm = _timm()
    name = _check_name(name)
    load = pretrained or model_path is not None
    remedy = None
    if model_path is None and pretrained:
        model_path, where = timm_weights_file(name)
        if model_path is None:
            raise WeightsUnavailableError(
                f"Pretrained timm/{name} weights are not in a local cache and optim never "
                f"downloads them: place them in {where}, or pass model_path=<local state dict>."
            )
        remedy = f"Delete {model_path} and place a good copy there, or pass model_path=<file>."
    if model_path is not None:
        model = _with_weights(timm, name, Path(model_path).absolute(), remedy, kwargs)
    else:
        model = timm.create_model(name, pretrained=False, **kwargs)
    model.eval()
    config = timm.data.resolve_data_config({}, model=model)
    embed = getattr(model, "patch_embed", None)
    if embed is not None and getattr(embed, "strict_img_size", False):
        size = tuple(int(s) for s in embed.img_size)
        # nn.Module.__setattr__ is typed Tensor | Module, but any value is accepted at runtime.
        model.required_input_size = size  # type: ignore[assignment]
    if transform_input if transform_input is not None else load:
        normalize_input(model, config["mean"], config["std"])
    return replace_activations(model, replace_relus_with_redirectedrelu, use_linear_modules_only)
