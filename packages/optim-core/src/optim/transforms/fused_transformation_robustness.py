"""The Lucid transformation robustness stack as one affine warp (static shapes, graph-safe)."""

# No `from __future__ import annotations` here: TorchScript reads the class attribute annotations
# and the NamedTuple fields only as real, evaluated annotations.

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from optim.checks import check_real, is_int
from optim.transforms._validation import check_4d
from optim.transforms.center_crop import crop_to_size
from optim.transforms.random_rotation import RandomRotation
from optim.transforms.random_scale import RandomScale
from optim.transforms.random_spatial_jitter import RandomSpatialJitter
from optim.transforms.transformation_robustness import (
    DEFAULT_DEGREES,
    DEFAULT_SCALE,
    DEFAULT_TRANSLATE,
    TransformationRobustness,
)

__all__ = ["AffineParameters", "FusedTransformationRobustness"]

_NAME = "FusedTransformationRobustness"


class AffineParameters(NamedTuple):
    """The random parameters of one :class:`FusedTransformationRobustness` call.

    Translations are ``(x, y)`` pairs, ``x`` to the right and ``y`` down.

    Attributes:
        translate: ``[B, 2]`` total of the jitters applied before the zoom, in input pixels.
        scale: ``[B]`` zoom factors (``2.0`` shows the content twice as large).
        degrees: ``[B]`` rotation angles (positive turns the content counter-clockwise on screen).
        final_translate: ``[B, 2]`` final jitter, in output pixels.
    """

    translate: torch.Tensor
    scale: torch.Tensor
    degrees: torch.Tensor
    final_translate: torch.Tensor


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Same device type and index (an unset index, as in ``"cuda"``, matches any index)."""
    if a.type != b.type:
        return False
    index_a, index_b = a.index, b.index
    return index_a is None or index_b is None or index_a == index_b


def _check_parameters(params: AffineParameters, batch: int) -> None:
    """Shapes only (no values: reading them would synchronise with the device)."""
    pair, single = [batch, 2], [batch]
    translate, final = list(params.translate.shape), list(params.final_translate.shape)
    scale, degrees = list(params.scale.shape), list(params.degrees.shape)
    if translate != pair or final != pair or scale != single or degrees != single:
        raise ValueError(
            "FusedTransformationRobustness parameters for a batch of B = "
            + str(batch)
            + " must have shapes translate [B, 2], scale [B], degrees [B], final_translate "
            + "[B, 2], got "
            + str([translate, scale, degrees, final])
            + "; draw them with sample_parameters(B, ...)."
        )


def _affine_sample(
    x: torch.Tensor, params: AffineParameters, out_height: int, out_width: int, fill: float
) -> torch.Tensor:
    """One bilinear resample of ``x`` onto an ``out_height`` x ``out_width`` canvas: output
    pixel ``v`` (about the centre) reads ``R(degrees) (v - final_translate) / scale -
    translate``; ``fill`` where that is outside ``x``."""
    batch, channels, height, width = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    translate = params.translate.to(work)
    final = params.final_translate.to(work)
    scale = params.scale.to(work)
    radians = params.degrees.to(work) * (math.pi / 180.0)
    cos, sin = torch.cos(radians) / scale, torch.sin(radians) / scale
    # Pixel space: input = A @ output + b with A = R / scale, b = -A @ final - translate.
    offset_x = -(cos * final[:, 0] - sin * final[:, 1]) - translate[:, 0]
    offset_y = -(sin * final[:, 0] + cos * final[:, 1]) - translate[:, 1]
    # affine_grid's normalised coordinates: 2 / size per pixel, for each axis and image.
    theta = torch.stack(
        [
            cos * (out_width / width),
            -sin * (out_height / width),
            offset_x * (2.0 / width),
            sin * (out_width / height),
            cos * (out_height / height),
            offset_y * (2.0 / height),
        ],
        dim=1,
    ).view(batch, 2, 3)
    grid = F.affine_grid(theta, [batch, channels, out_height, out_width], align_corners=False)
    grid = grid.to(x.dtype)
    if fill == 0.0:
        return F.grid_sample(x, grid, "bilinear", "zeros", align_corners=False)
    out = F.grid_sample(x - fill, grid, "bilinear", "zeros", align_corners=False)
    return out + fill


def _no_distribution(values: object, name: str) -> None:
    if isinstance(values, torch.distributions.Distribution):
        raise ValueError(
            f"{_NAME} {name} must be a list of values to pick from; distributions are not "
            "supported (they draw on the host). Use TransformationRobustness for a "
            "distribution, or pass a list of values."
        )


def _as_nonnegative_int(value: object, name: str) -> int:
    if not is_int(value) or value < 0:
        raise ValueError(f"{_NAME} {name} must be a non-negative int, got {value!r}.")
    return int(value)


def _as_translate(translate: object) -> list[int]:
    if translate is None:
        return []
    _no_distribution(translate, "translate")
    if is_int(translate):
        return [_as_nonnegative_int(translate, "translate")]
    if isinstance(translate, torch.Tensor) or not isinstance(translate, Sequence):
        raise ValueError(
            f"{_NAME} translate must be an int, a sequence of ints (one jitter each) or None, "
            f"got {translate!r}."
        )
    return [_as_nonnegative_int(t, "translate entries") for t in translate]


def _as_values(values: object, name: str) -> list[float]:
    """A non-empty list of finite floats from a sequence or 1-D tensor; None gives ``[]``."""
    if values is None:
        return []
    _no_distribution(values, name)
    if isinstance(values, torch.Tensor):
        if values.dim() != 1:
            raise ValueError(
                f"{_NAME} {name} must be a 1-D tensor, got shape {list(values.shape)}."
            )
        numbers = values.detach().to("cpu", torch.float64).tolist()
    elif isinstance(values, Sequence) and not isinstance(values, str):
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(
                f"{_NAME} {name} must be a sequence of numbers, got {values!r}."
            ) from None
    else:
        raise ValueError(
            f"{_NAME} {name} must be a sequence of numbers, a 1-D tensor or None, got {values!r}."
        )
    if len(numbers) == 0:
        raise ValueError(f"{_NAME} {name} must contain at least one value (or be None to skip).")
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{_NAME} {name} must be finite numbers, got {numbers}.")
    return numbers


class FusedTransformationRobustness(nn.Module):
    """:class:`TransformationRobustness` as one affine warp: static shapes, draws on the device.

    The random stages of the eager stack -- the jitters, the zoom, the rotation and the final
    jitter -- are composed into one affine map per image and applied with one
    ``F.affine_grid`` + ``F.grid_sample`` (bilinear, ``align_corners=False``). In order, the
    content is

    1. shifted by the sum of the ``translate`` jitters (each an independent uniform integer in
       ``[-t, t]`` per axis, in input pixels),
    2. zoomed about the centre by a factor picked from ``scale`` (``2.0`` shows it twice as
       large, as ``RandomScale`` would resize it),
    3. rotated about the centre by an angle picked from ``degrees`` (positive angles turn it
       counter-clockwise on screen, the convention of :class:`RandomRotation` on square images),
    4. shifted by the final jitter (uniform integers in ``[-final_translate, final_translate]``).

    Differences from the eager stack, on purpose:

    * one bilinear resample instead of one per stage (the eager stack resamples for the zoom
      and again for the rotation), so the result is a little sharper (``resize_canvas=True``
      resamples twice, as the stack does);
    * the output size is fixed -- the input size plus ``2 * padding`` per side, or the input
      size with ``crop_or_pad_output=True`` -- so the scale is a zoom of the content within a
      fixed canvas, whereas ``RandomScale`` changes the output size;
    * every pixel that comes from outside the input image is ``fill``, whereas the eager
      jitters reflect their input (showing mirrored content) and the eager rotation fills its
      corners with zeros;
    * the rotation is a rigid rotation in pixels for non-square images too (the eager
      ``RandomRotation`` rotates in ``affine_grid``'s normalised coordinates, which stretches
      non-square images);
    * by default every image of the batch gets its own parameters (``per_sample=True``); the
      eager stack draws once per batch (``per_sample=False`` here).

    The parameters come from the same lists with the same probabilities, so it is
    statistically the same augmentation. It is graph-safe: output shapes do not depend on the
    draws, the draws are made on the input's device with ``torch.randint`` (torch's default
    CUDA generator draws fresh numbers on every CUDA graph replay) and ``forward`` makes no
    host-device synchronisation or host-to-device copy. Move the module with
    ``.to(device)`` first: the value lists are (non-persistent) buffers. They stay float64
    under ``.to(dtype)``/``.half()`` so that half-precision modules draw the exact values.

    Args:
        padding: pixels of ``fill`` added on each side of the output canvas (like the eager
            stack's ``ConstantPad2d(2, 0.5)``).
        fill: the value of every output pixel that comes from outside the input image.
        translate: jitter sizes (one independent jitter each, summed), a single int, or
            ``None`` for none.
        scale: zoom factors to pick from (positive), or ``None`` for no zoom.
        degrees: angles in degrees to pick from, or ``None`` for no rotation.
        final_translate: size of the last jitter, or ``None`` for none.
        crop_or_pad_output: make the output the input's size instead of the padded size.
        per_sample: draw parameters for every image of the batch; ``False`` draws one set for
            the whole batch like the eager stack.
        generator: a ``torch.Generator`` on the input's device; torch's default generator for
            that device otherwise.
        resize_canvas: run as the eager stack resamples, for eager (CPU) steps: the padding
            and the jitters as one integer shift (one constant pad), the zoom with the stack's
            ``F.interpolate`` (so the output is the padded size times the factor, rounded
            down), then the rotation and the final jitter as one ``grid_sample`` whose corners
            are zeros like :class:`RandomRotation`'s. Two resamples, as in the eager stack, so
            renders come out as blurred as the stack's (one resample made them measurably
            sharper); the jitters fill their edges with ``fill`` instead of reflecting. Needs
            ``per_sample=False`` and reads the parameters back to the host, so it is not for
            CUDA graphs.

    Example:
        >>> robustness = FusedTransformationRobustness()
        >>> robustness(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 3, 68, 68])
    """

    __constants__ = ["padding", "fill", "crop_or_pad_output", "per_sample", "resize_canvas"]
    __jit_unused_properties__ = ["scale", "degrees"]
    translate_sizes: list[int]
    translate_counts: list[int]
    final_translate_size: int
    scale_values: torch.Tensor
    degree_values: torch.Tensor

    def __init__(
        self,
        padding: int = 2,
        fill: float = 0.5,
        translate: int | Sequence[int] | None = DEFAULT_TRANSLATE,
        scale: Sequence[float] | torch.Tensor | None = DEFAULT_SCALE,
        degrees: Sequence[float] | torch.Tensor | None = DEFAULT_DEGREES,
        final_translate: int | None = 2,
        crop_or_pad_output: bool = False,
        per_sample: bool = True,
        generator: torch.Generator | None = None,
        resize_canvas: bool = False,
    ) -> None:
        super().__init__()
        self.padding = _as_nonnegative_int(padding, "padding")
        self.fill = check_real(fill, f"{_NAME} fill")
        self.translate = tuple(_as_translate(translate))
        # Jitters of the same size are drawn together: one randint per distinct size.
        sizes = sorted({t for t in self.translate if t > 0})
        self.translate_sizes = sizes
        self.translate_counts = [self.translate.count(t) for t in sizes]
        self._scale_list = _as_values(scale, "scale")
        if any(v <= 0 for v in self._scale_list):
            raise ValueError(f"{_NAME} scale factors must be positive, got {self._scale_list}.")
        self._degree_list = _as_values(degrees, "degrees")
        self.final_translate = (
            None
            if final_translate is None
            else _as_nonnegative_int(final_translate, "final_translate")
        )
        self.final_translate_size = 0 if self.final_translate is None else self.final_translate
        flags = ((crop_or_pad_output, "crop_or_pad_output"), (per_sample, "per_sample"))
        for flag, name in (*flags, (resize_canvas, "resize_canvas")):
            if not isinstance(flag, bool):
                raise ValueError(f"{_NAME} {name} must be True or False, got {flag!r}.")
        if resize_canvas and per_sample:
            raise ValueError(
                f"{_NAME} resize_canvas=True needs per_sample=False: the batch's one zoom factor "
                "sets the output size."
            )
        self.crop_or_pad_output = crop_or_pad_output
        self.per_sample = per_sample
        self.resize_canvas = resize_canvas
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(
                f"{_NAME} generator must be a torch.Generator on the input's device (or None "
                f"for torch's default generator), got {generator!r}."
            )
        self.generator = generator
        # [1.0] / [0.0] when a stage is skipped keeps the forward free of branches.
        scale_values = self._values_buffer(self._scale_list or [1.0], None)
        degree_values = self._values_buffer(self._degree_list or [0.0], None)
        self.register_buffer("scale_values", scale_values, persistent=False)
        self.register_buffer("degree_values", degree_values, persistent=False)

    @staticmethod
    def _values_buffer(values: list[float], device: torch.device | None) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float64, device=device)

    def _apply(
        self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True
    ) -> "FusedTransformationRobustness":
        """Move the value lists with the module but keep them exact (float64) under dtype casts."""
        super()._apply(fn, recurse)
        if self.scale_values.dtype != torch.float64:
            device = self.scale_values.device
            self.scale_values = self._values_buffer(self._scale_list or [1.0], device)
        if self.degree_values.dtype != torch.float64:
            device = self.degree_values.device
            self.degree_values = self._values_buffer(self._degree_list or [0.0], device)
        return self

    @property
    def scale(self) -> list[float] | None:
        """The zoom factors to pick from (``None`` when the zoom is skipped)."""
        return list(self._scale_list) if self._scale_list else None

    @property
    def degrees(self) -> list[float] | None:
        """The angles to pick from (``None`` when the rotation is skipped)."""
        return list(self._degree_list) if self._degree_list else None

    def _check_device(self, device: torch.device) -> None:
        if not _same_device(self.scale_values.device, device):
            raise ValueError(
                "FusedTransformationRobustness's value lists are on "
                + str(self.scale_values.device)
                + " but the parameters are drawn on "
                + str(device)
                + "; move the module first with .to('"
                + str(device)
                + "')."
            )
        if not torch.jit.is_scripting():
            self._check_generator(device)

    @torch.jit.unused
    def _check_generator(self, device: torch.device) -> None:
        generator = self.generator
        if generator is not None and not _same_device(generator.device, device):
            raise ValueError(
                f"FusedTransformationRobustness generator is on {generator.device} but the "
                f"input is on {device}; create it with torch.Generator(device='{device}') or "
                "pass generator=None."
            )

    def _jitter(self, draws: int, size: int, count: int, device: torch.device) -> torch.Tensor:
        """``[draws, 2]`` sums of ``count`` independent uniform integers in ``[-size, size]``."""
        steps = torch.randint(
            -size, size + 1, [draws, 2, count], generator=self.generator, device=device
        )
        return steps.sum(dim=2)

    def _pick(self, values: torch.Tensor, draws: int, device: torch.device) -> torch.Tensor:
        index = torch.randint(0, values.shape[0], [draws], generator=self.generator, device=device)
        return torch.index_select(values, 0, index)

    def sample_parameters(
        self,
        batch: int,
        device: torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> AffineParameters:
        """Draw the parameters of one call on ``device`` (no host synchronisation).

        With ``per_sample=False`` one set is drawn and expanded over the batch.

        Example:
            >>> params = FusedTransformationRobustness().sample_parameters(4)
            >>> params.translate.shape, params.scale.shape
            (torch.Size([4, 2]), torch.Size([4]))
        """
        if batch < 1:
            raise ValueError(f"FusedTransformationRobustness batch must be >= 1, got {batch}.")
        if device is None:
            device = self.scale_values.device
        self._check_device(device)
        draws = batch if self.per_sample else 1
        translate = torch.zeros([draws, 2], dtype=torch.int64, device=device)
        for size, count in zip(self.translate_sizes, self.translate_counts):
            translate = translate + self._jitter(draws, size, count, device)
        if self.final_translate_size > 0:
            final = self._jitter(draws, self.final_translate_size, 1, device)
        else:
            final = torch.zeros([draws, 2], dtype=torch.int64, device=device)
        scale = self._pick(self.scale_values, draws, device)
        degrees = self._pick(self.degree_values, draws, device)
        params = AffineParameters(
            translate.to(dtype), scale.to(dtype), degrees.to(dtype), final.to(dtype)
        )
        if not self.per_sample:
            params = AffineParameters(
                params.translate.expand(batch, 2),
                params.scale.expand(batch),
                params.degrees.expand(batch),
                params.final_translate.expand(batch, 2),
            )
        return params

    def output_size(self, height: int, width: int, scale: float = 1.0) -> list[int]:
        """The output ``[height, width]`` for an input of ``height`` x ``width`` (and, with
        ``resize_canvas``, a zoom of ``scale``: the padded size times it, rounded down, as
        ``F.interpolate`` sizes the eager ``RandomScale``'s output)."""
        if self.crop_or_pad_output:
            return [height, width]
        padded_height, padded_width = height + 2 * self.padding, width + 2 * self.padding
        if self.resize_canvas:
            return [math.floor(padded_height * scale), math.floor(padded_width * scale)]
        return [padded_height, padded_width]

    def warp(self, x: torch.Tensor, params: AffineParameters) -> torch.Tensor:
        """Warp ``x`` with the given parameters (deterministic; differentiable in both, except
        with ``resize_canvas``, where the shift and the zoom are read back as numbers).

        (Not named ``apply``: ``nn.Module.apply(fn)`` must keep working on a model holding
        this module.)

        Every output pixel ``v`` (pixel coordinates about the centre, ``x`` right, ``y`` down)
        samples the input at ``R(degrees) (v - final_translate) / scale - translate``, with
        ``R(a) = [[cos a, -sin a], [sin a, cos a]]`` (with ``resize_canvas``, through the
        eager stack's two resamples).

        Example:
            >>> robustness = FusedTransformationRobustness(padding=1, fill=0.0)
            >>> zero, one = torch.zeros(1), torch.ones(1)
            >>> params = AffineParameters(torch.zeros(1, 2), one, zero, torch.zeros(1, 2))
            >>> robustness.warp(torch.ones(1, 1, 2, 2), params)[0, 0]
            tensor([[0., 0., 0., 0.],
                    [0., 1., 1., 0.],
                    [0., 1., 1., 0.],
                    [0., 0., 0., 0.]])
        """
        check_4d(x, "FusedTransformationRobustness")
        if not x.is_floating_point():
            raise ValueError(
                f"FusedTransformationRobustness expects a floating-point image, got {x.dtype}."
            )
        _check_parameters(params, x.shape[0])
        if self.resize_canvas:
            return self._warp_like_stack(x, params)
        out_height, out_width = self.output_size(x.shape[2], x.shape[3])
        return _affine_sample(x, params, out_height, out_width, self.fill)

    def _warp_like_stack(self, x: torch.Tensor, params: AffineParameters) -> torch.Tensor:
        """``resize_canvas``: shift, zoom, then rotate + final jitter, as the eager stack does.

        Reads the batch's shift and zoom back to the host (they set the output's size);
        differentiable in ``x``, the angle and the final jitter.
        """
        height, width = x.shape[2], x.shape[3]
        translate, scale = params.translate.double(), params.scale.double()
        shared = (translate == translate[:1]).all() & (scale == scale[:1]).all()
        # One read back (one wait on a GPU): the shift, the zoom and whether they are shared.
        numbers: list[float] = torch.cat([translate[0], scale[:1], shared.double()[None]]).tolist()
        shift_x, shift_y, zoom = numbers[0], numbers[1], numbers[2]
        if numbers[3] != 1.0:
            raise ValueError(
                "FusedTransformationRobustness(resize_canvas=True) applies one shift and one "
                "zoom to the whole batch (they size the output); draw the parameters with "
                "sample_parameters(), which shares them."
            )
        if shift_x != math.floor(shift_x) or shift_y != math.floor(shift_y):
            raise ValueError(
                "FusedTransformationRobustness(resize_canvas=True) shifts by whole pixels, got "
                f"translate ({shift_x}, {shift_y}); use integer translations."
            )
        # Content shifted this far is off the canvas either way; F.pad cannot crop further.
        pad = self.padding
        dx = int(min(max(shift_x, -(width + pad)), width + pad))
        dy = int(min(max(shift_y, -(height + pad)), height + pad))
        canvas = F.pad(x, [pad + dx, pad - dx, pad + dy, pad - dy], value=self.fill)
        if zoom != 1.0:  # as RandomScale: sized by the factor, rounded down
            canvas = F.interpolate(
                canvas, scale_factor=zoom, mode="bilinear", align_corners=False,
                recompute_scale_factor=False,
            )  # fmt: skip
        # Then RandomRotation's rotation about the centre and the final jitter, in one resample
        # whose corners are zeros like RandomRotation's: no more shift or zoom.
        rest = AffineParameters(
            torch.zeros_like(params.final_translate), torch.ones_like(params.degrees),
            params.degrees, params.final_translate,
        )  # fmt: skip
        out = _affine_sample(canvas, rest, canvas.shape[2], canvas.shape[3], 0.0)
        if self.crop_or_pad_output:
            out = crop_to_size(out, [height, width])
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_4d(x, "FusedTransformationRobustness")
        work = torch.float64 if x.dtype == torch.float64 else torch.float32
        # resize_canvas reads the zoom on the host: draw it exactly, as the eager stack does
        draw = torch.float64 if self.resize_canvas else work
        return self.warp(x, self.sample_parameters(x.shape[0], x.device, draw))

    @classmethod
    def from_stack(
        cls,
        stack: TransformationRobustness,
        *,
        per_sample: bool = True,
        generator: torch.Generator | None = None,
        resize_canvas: bool = False,
    ) -> "FusedTransformationRobustness":
        """The fused equivalent of an eager :class:`TransformationRobustness`.

        Reads the padding (a symmetric ``nn.ConstantPad2d``, or ``None`` for no padding and a
        fill of 0 like the eager rotation's corners), the jitter sizes, the scale and angle
        lists, the final jitter and ``crop_or_pad_output``. The stack's generator is not
        reused (it is a CPU generator; the fused transform draws on the input's device): pass
        ``generator`` for one on the device.

        Raises:
            TypeError: ``stack`` is not a TransformationRobustness.
            ValueError: the stack cannot be expressed as one affine warp (a distribution
                instead of a list, another padding module, non-bilinear or anti-aliased
                resampling, a custom forward, ...).

        Example:
            >>> fused = FusedTransformationRobustness.from_stack(TransformationRobustness())
            >>> fused.translate == (4,) * 10 and len(fused.scale) == 125
            True
        """
        if not isinstance(stack, TransformationRobustness):
            raise TypeError(
                f"{_NAME}.from_stack expects a TransformationRobustness, got "
                f"{type(stack).__name__}."
            )
        if type(stack).forward is not TransformationRobustness.forward:
            raise ValueError(
                f"Cannot fuse {type(stack).__name__}: it overrides forward, so what it does is "
                "unknown; build a FusedTransformationRobustness by hand."
            )

        def refuse(what: str) -> ValueError:
            return ValueError(
                f"Cannot express this TransformationRobustness as one affine warp: {what}. "
                f"Keep the eager stack, or build a {_NAME} with the settings you want."
            )

        pad = stack.padding_transform
        if pad is None:
            padding, fill = 0, 0.0
        elif isinstance(pad, nn.ConstantPad2d):
            sides = tuple(pad.padding)
            if len(set(sides)) != 1:
                raise refuse(f"its padding {sides} is not the same on all four sides")
            padding, fill = int(sides[0]), float(pad.value)
        else:
            raise refuse(
                f"its padding_transform is {type(pad).__name__}, not nn.ConstantPad2d or None"
            )

        def jitter_size(module: object, what: str) -> int:
            if type(module) is not RandomSpatialJitter:
                raise refuse(f"its {what} is {type(module).__name__}, not RandomSpatialJitter")
            return module.translate

        jitters = stack.jitter_transforms
        if jitters is None:
            translate: list[int] | None = None
        elif isinstance(jitters, nn.Sequential):
            translate = [jitter_size(j, "jitter stage") for j in jitters]
        else:
            translate = [jitter_size(jitters, "jitter stage")]

        scale: list[float] | None = None
        if stack.random_scale is not None:
            stage = stack.random_scale
            if type(stage) is not RandomScale:
                raise refuse(f"its scale stage is {type(stage).__name__}, not RandomScale")
            if stage.distribution is not None:
                raise refuse("its scale is a distribution, not a list of factors")
            if stage.mode != "bilinear" or stage.align_corners or stage.antialias:
                raise refuse(
                    f"its RandomScale resamples with mode={stage.mode!r}, "
                    f"align_corners={stage.align_corners}, antialias={stage.antialias} instead "
                    "of bilinear, align_corners=False, antialias=False"
                )
            scale = list(stage.values)

        degrees: list[float] | None = None
        if stack.random_rotation is not None:
            rotation = stack.random_rotation
            if type(rotation) is not RandomRotation:
                raise refuse(f"its rotation stage is {type(rotation).__name__}, not RandomRotation")
            if rotation.distribution is not None:
                raise refuse("its degrees are a distribution, not a list of angles")
            mode, padding_mode = rotation.mode, rotation.padding_mode
            if mode != "bilinear" or rotation.align_corners or padding_mode != "zeros":
                raise refuse(
                    f"its RandomRotation samples with mode={mode!r}, "
                    f"padding_mode={padding_mode!r}, align_corners={rotation.align_corners} "
                    "instead of bilinear, zeros, align_corners=False"
                )
            degrees = list(rotation.values)

        final = stack.final_jitter
        final_translate = None if final is None else jitter_size(final, "final jitter")
        return cls(
            padding=padding,
            fill=fill,
            translate=translate,
            scale=scale,
            degrees=degrees,
            final_translate=final_translate,
            crop_or_pad_output=stack.crop_or_pad_output,
            per_sample=per_sample,
            generator=generator,
            resize_canvas=resize_canvas,
        )

    def extra_repr(self) -> str:
        return (
            f"padding={self.padding}, fill={self.fill}, translate={list(self.translate)}, "
            f"scale={len(self._scale_list)} values, degrees={len(self._degree_list)} values, "
            f"final_translate={self.final_translate}, crop_or_pad_output={self.crop_or_pad_output}"
            f", per_sample={self.per_sample}, resize_canvas={self.resize_canvas}"
        )
