"""Load a model by its registry name and describe exactly which weights it carries.

Model names come from the plugin registry (kind ``"models"``), which optim-models fills,
including namespaced names such as ``"torchvision/resnet152"`` (resolved by the namespace
its plugin registers). The description (:class:`ModelSource`) goes into run manifests: the
name, the distribution and version that registered it, the weights file and its sha256, and
always a sha256 of the state dict itself. The weights file is the model's ``weights_file``
attribute, which optim-models' loaders set (a factory that sets none gets only the
state-dict hash). The factory and the model are checked against their contracts
(:mod:`optim.plugins.contracts`: ``ModelFactory``, ``HasWeightsFile``) so that a plugin
breaking one is named instead of producing a manifest that cannot be checked.

Example:
    With optim-models installed, ``load_registered_model("efficientnet_lite0")`` loads real
    weights; any registered factory works the same way:

    >>> import optim as opt
    >>> from optim.rendering.model_source import load_registered_model
    >>> class Zoo:  # a models plugin, added in-process instead of by an entry point
    ...     @opt.plugins.hookimpl
    ...     def register_models(self, register):
    ...         register("tiny_conv", lambda pretrained=False: torch.nn.Conv2d(3, 4, 3))
    >>> zoo = Zoo()
    >>> opt.plugins.add_plugin(zoo, name="doc-zoo")
    >>> model, source = load_registered_model("tiny_conv", pretrained=False)
    >>> source.name, source.distribution, source.weights_file, model.training
    ('tiny_conv', '__main__', None, False)
    >>> opt.plugins.remove_plugin(zoo)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from optim.rendering.spec import RenderSpec

__all__ = [
    "DEFAULT_MODEL",
    "ModelSource",
    "load_registered_model",
    "sha256_file",
    "state_dict_sha256",
]

DEFAULT_MODEL = RenderSpec.model
"""The model every command uses by default: real ImageNet weights that install offline."""

_MODELS_MODULE = "models"
"""``optim.models``, the first-party plugin package that fills the models registry."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model came from, precisely enough to check a rerun uses the same weights."""

    name: str
    pretrained: bool
    distribution: str
    version: str
    weights_file: str | None
    weights_sha256: str | None
    state_dict_sha256: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "abc.txt")
        ...     with open(path, "wb") as f:
        ...         _ = f.write(b"abc")
        ...     sha256_file(path)[:16]  # FIPS 180-2's test vector for "abc"
        'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(model: nn.Module) -> str:
    """A sha256 over the model's state dict (names, dtypes, shapes and values, in order).

    Example:
        >>> a = torch.nn.Linear(2, 2)
        >>> b = torch.nn.Linear(2, 2)
        >>> _ = b.load_state_dict(a.state_dict())
        >>> state_dict_sha256(a) == state_dict_sha256(b)
        True
    """
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _missing_models_hint() -> str:
    if importlib.util.find_spec(f"optim.{_MODELS_MODULE}") is None:
        from optim import _pip_install, _plugin_distribution

        dist = _plugin_distribution(_MODELS_MODULE)
        return f" Model names are provided by {dist}, which is not installed: {_pip_install(dist)}"
    return " `optim plugins --kind models` lists the registered models and namespaces."


def load_registered_model(
    name: str = DEFAULT_MODEL,
    *,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, ModelSource]:
    """Build the registered model ``name`` in eval mode on ``device`` and describe its weights.

    Args:
        name: a name from ``optim plugins --kind models`` (e.g. ``"efficientnet_lite0"``), or a
            namespaced one (``"torchvision/resnet152"``).
        pretrained: load the trained weights (``factory(pretrained=True)``); otherwise random.
        device: where to put the model.

    Returns:
        ``(model, source)``.

    Raises:
        LookupError: unknown name (closest names listed), or no model registered at all
            because optim-models is missing (the message says ``pip install optim-models``).
        optim.plugins.ContractError: the factory or its model breaks a contract (no
            ``pretrained`` keyword, not an ``nn.Module``, a ``weights_file`` that is not a
            file); the message names the distribution, the model and the contract.

    Example:
        A factory registered by a plugin, whose trained model records its weights file:

        >>> import tempfile
        >>> from pathlib import Path
        >>> import optim as opt
        >>> tmp = tempfile.TemporaryDirectory()
        >>> weights = Path(tmp.name, "tiny.pth")
        >>> torch.save(nn.Conv2d(3, 4, 3).state_dict(), weights)
        >>> def tiny(pretrained=False):
        ...     model = nn.Conv2d(3, 4, 3)
        ...     if pretrained:
        ...         model.load_state_dict(torch.load(weights, weights_only=True))
        ...         model.weights_file = str(weights)
        ...     return model
        >>> class Zoo:
        ...     @opt.plugins.hookimpl
        ...     def register_models(self, register):
        ...         register("tiny_pretrained", tiny)
        >>> zoo = Zoo()
        >>> opt.plugins.add_plugin(zoo, name="doc-pretrained-zoo")
        >>> model, source = load_registered_model("tiny_pretrained")
        >>> source.pretrained, source.weights_sha256 == sha256_file(weights)
        (True, True)
        >>> source.state_dict_sha256 == state_dict_sha256(model)
        True
        >>> opt.plugins.remove_plugin(zoo)
        >>> tmp.cleanup()
    """
    from optim import plugins
    from optim.plugins import contracts

    if not isinstance(name, str) or not name:
        raise TypeError(f"A model name must be a non-empty string, got {name!r}.")
    try:
        entry = plugins.info("models", name)
    except KeyError as exc:
        raise LookupError(str(exc.args[0]) + _missing_models_hint()) from None
    dist = f"{entry.distribution} {entry.version}"
    factory = contracts.check_model_factory(entry.load(), name=name, distribution=dist)
    model = contracts.check_model(factory(pretrained=pretrained), name=name, distribution=dist)
    weights_file = contracts.check_weights_file(model, name=name, distribution=dist)
    model = model.to(device).eval()
    weights_sha = sha256_file(weights_file) if weights_file is not None else None
    source = ModelSource(
        name=name,
        pretrained=pretrained,
        distribution=entry.distribution,
        version=entry.version,
        weights_file=weights_file,
        weights_sha256=weights_sha,
        state_dict_sha256=state_dict_sha256(model),
    )
    return model, source
