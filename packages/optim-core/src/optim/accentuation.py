"""Feature accentuation (Hamblin et al. 2024): amplify a feature inside a real image."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from optim.hooks.activations import model_device
from optim.hooks.targets import Target, resolve_target
from optim.images.fft_image import FFTImage
from optim.images.image_tensor import ImageTensor
from optim.images.natural_image import NaturalImage
from optim.loss.activation import ChannelActivation, LayerActivation
from optim.loss.base import CompositeLoss, Loss, TargetsToValues
from optim.optimization.step_record import StepRecord
from optim.rendering.engine import optimize_image, progress_bar
from optim.rendering.spec import RenderSpec
from optim.transforms.to_rgb import ToRGB

# Seeds are clamped into [eps, 1 - eps] before the inverse sigmoid, so that saturated pixels
# start at a finite logit where the sigmoid still passes gradient.
_SEED_EPS = 0.01


class AccentuationResult(NamedTuple):
    """What :func:`accentuate` returns; unpacks as ``image, history``.

    Attributes:
        image: the accentuated image, [1, 3, H, W] in [0, 1].
        history: per-step tensors ``"target"`` (mean target activation on the accentuated
            image), ``"distance"`` (relative L2 distance to the seed at the regularisation
            layer, or in pixels) and ``"objective"`` (``target - weight * distance``).
    """

    image: ImageTensor
    history: dict[str, torch.Tensor]


class _SeedPair(nn.Module):
    """Input module yielding ``[image being optimised, seed]`` so both see the same transforms."""

    def __init__(self, image: nn.Module, seed: torch.Tensor) -> None:
        super().__init__()
        self.image = image
        self.seed: torch.Tensor  # a buffer (typed for type checkers)
        self.register_buffer("seed", seed)

    def forward(self) -> torch.Tensor:
        image = self.image().as_subclass(torch.Tensor)
        return torch.cat([image, self.seed.to(image.dtype)], dim=0)


def _as_seed(image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise TypeError(
            f"image must be a [3, H, W] or [1, 3, H, W] tensor in [0, 1], got "
            f"{type(image).__name__}. Load files with opt.ImageTensor.load(path)."
        )
    seed = image.detach().as_subclass(torch.Tensor)
    if seed.dim() == 3:
        seed = seed.unsqueeze(0)
    if seed.dim() != 4 or seed.shape[0] != 1 or seed.shape[1] != 3:
        raise ValueError(
            f"image must be one RGB image, [3, H, W] or [1, 3, H, W], got {tuple(image.shape)}."
        )
    if not seed.is_floating_point():
        raise TypeError(f"image must be a float tensor in [0, 1], got dtype {seed.dtype}.")
    if float(seed.min()) < 0 or float(seed.max()) > 1:
        raise ValueError(
            f"image values must lie in [0, 1], got [{float(seed.min()):.3g}, "
            f"{float(seed.max()):.3g}]; divide 8-bit images by 255."
        )
    return seed.float()


def _seed_logits(seed: torch.Tensor, decorrelation: ToRGB) -> torch.Tensor:
    """The pre-sigmoid, decorrelated image that NaturalImage maps back to ``seed``."""
    logits = torch.logit(seed.clamp(_SEED_EPS, 1 - _SEED_EPS))
    return decorrelation(logits, inverse=True)


def _relative_distance(activation: torch.Tensor) -> torch.Tensor:
    """``||a[0] - a[1]|| / ||a[1]||``: distance of the accentuated image to the seed."""
    current, seed = activation[0], activation[1].detach()
    return torch.linalg.vector_norm(current - seed) / torch.linalg.vector_norm(seed).clamp(
        min=1e-12
    )


def accentuate(
    model: nn.Module,
    target: Target | Loss,
    image: torch.Tensor,
    channel_index: int | None = None,
    *,
    regularization_layer: Target | None = None,
    regularization_weight: float = 5.0,
    steps: int = 128,
    lr: float = 0.025,
    transform: nn.Module | None = None,
    seed: int | None = None,
    show_progress: bool = True,
) -> AccentuationResult:
    """Increase a feature in a real image while keeping the result close to it.

    Feature accentuation (Hamblin, Fel, Saha, Konkle, Alvarez 2024): the image is
    parameterised in Fourier space (:class:`~optim.images.FFTImage` inside
    :class:`~optim.images.NaturalImage`) starting exactly at the seed (pixels clamped to
    [0.01, 0.99]), and optimised to maximise ``target - weight * distance``, where
    ``distance`` is the relative L2 distance ``||h(x) - h(seed)|| / ||h(seed)||`` between the
    activations of ``regularization_layer`` for the image and for the seed (or between the
    pixels, when no layer is given). The seed goes through the same random transforms as the
    image at every step, so the distance compares like with like.

    Args:
        model: the network, in eval mode.
        target: a module or dotted layer name (with ``channel_index`` for one channel, the
            whole layer otherwise), or an ``optim.loss.Loss``; a Loss sees the batch
            ``[image, seed]``, so give it ``batch_index=0``.
        image: the seed, [3, H, W] or [1, 3, H, W] in [0, 1].
        channel_index: channel of ``target`` to accentuate.
        regularization_layer: module or dotted name whose activations must stay close to the
            seed's (Hamblin et al. use a layer before the target); None regularises pixels.
        regularization_weight: weight of the distance against the target (>= 0; 0 gives an
            unconstrained render that starts from the seed). The default 5 suits targets whose
            activations are of order 1: on EfficientNet-Lite0 it multiplies a channel of
            ``_blocks.5`` by about 20 while the image stays within 0.13 RMS of the seed.
        steps: Adam steps.
        lr: Adam learning rate.
        transform: transforms applied before the model; default as ``InputOptimization``'s.
        seed: seed of the transforms' random draws (same seed, same result: bitwise on CPU);
            when ``None`` drawn from torch's global RNG (``torch.manual_seed`` controls it).
        show_progress: show a tqdm progress bar.

    Returns:
        An :class:`AccentuationResult` ``(image, history)``.

    Example:
        >>> import torch, torch.nn as nn
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3)).eval()
        >>> seed = torch.rand(3, 32, 32)
        >>> image, history = accentuate(model, "2", seed, 1, regularization_layer="1",
        ...                             steps=4, show_progress=False)
        >>> image.shape, history["target"].shape
        (torch.Size([1, 3, 32, 32]), torch.Size([4]))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    start = _as_seed(image)
    spec = RenderSpec(steps=steps, lr=lr, seed=seed).with_seed()  # validates steps, lr, seed
    if not isinstance(regularization_weight, int | float) or regularization_weight < 0:
        raise ValueError(
            f"regularization_weight must be a number >= 0, got {regularization_weight!r}."
        )
    if isinstance(target, Loss):
        if channel_index is not None:
            raise ValueError("channel_index only applies to a layer target, not to a Loss.")
        target_loss: Loss = target
    else:
        resolve_target(model, target)  # fails early with the closest valid names
        target_loss = (
            LayerActivation(target, batch_index=0)
            if channel_index is None
            else ChannelActivation(target, channel_index, batch_index=0)
        )

    device = model_device(model) or start.device
    start = start.to(device)
    decorrelation = ToRGB("klt").to(device)
    natural = NaturalImage(  # starts exactly at the seed image: nothing random here
        init=_seed_logits(start, decorrelation),
        parameterization=FFTImage,
        decorrelation_module=decorrelation,
        decorrelate_init=False,
    )
    pair = _SeedPair(natural, start).to(device)
    distance_target: Target = pair if regularization_layer is None else regularization_layer
    if regularization_layer is not None:
        resolve_target(model, regularization_layer)

    # Recorded as tensor operations: a step replayed as a CUDA graph runs no Python. The
    # objective itself is recorded by the engine.
    records = {name: StepRecord(steps) for name in ("target", "distance")}

    def objective(targets_to_values: TargetsToValues) -> torch.Tensor:
        value = target_loss(targets_to_values).mean()
        regularized = targets_to_values[distance_target]
        if regularized is None:
            raise RuntimeError(f"The regularization target {distance_target!r} produced no output.")
        distance = _relative_distance(regularized)
        records["target"].append(value.detach())
        records["distance"].append(distance.detach())
        return value - regularization_weight * distance

    loss = CompositeLoss(
        objective, name="Accentuation", target=[target_loss.target, distance_target]
    )
    progress = progress_bar(steps, "accentuate", show_progress)
    try:
        run = optimize_image(
            model, loss, lambda: (pair, transform), seed=spec.fixed_seed, steps=steps, lr=spec.lr,
            device=device, progress=progress,
        )  # fmt: skip
    finally:
        progress.close()
    with torch.no_grad():
        result = natural()
    history = {name: record.values().cpu() for name, record in records.items()}
    history["objective"] = run.history
    return AccentuationResult(image=result, history=history)
