"""Bare forward-to-mixed4a + backward of optim's InceptionV1 against torchvision's GoogLeNet.

Random weights, ``transform_input=True`` on both, parameters frozen. One step is: a
``[batch, 3, size, size]`` input in [0, 1] that requires grad, the forward stopped by a
forward hook that raises once the target has run (``mixed4a_relu`` for optim's model,
``inception4a`` for torchvision's: both end after a ReLU), then ``target[:, 7].mean()``
backward to the input. Rounds are interleaved so every variant sees the same machine load;
medians are printed, with each variant's ratio to torchvision. A second table times the
local response norms alone (``nn.LocalResponseNorm`` against optim's) at the shapes the
model feeds them.

Variants: ``torch LRN`` is optim's model with its LRN layers swapped back to
``nn.LocalResponseNorm`` (the straightforward implementation); ``plain ReLU`` builds it with
``nn.ReLU`` instead of ``RedirectedReluLayer`` (what renders use with pretrained weights).

Timings are never asserted anywhere. ``bare_step``, ``torchvision_trunk`` and
``optim_inception`` are meant to be imported by other harnesses.

Usage:
    python benchmarks/inception_trunk.py --batch 8 --size 224 --rounds 5 --threads 2
    python benchmarks/inception_trunk.py --device cuda --batch 64 --dtype bfloat16
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from torch import nn

from optim.models import InceptionV1
from optim.models.local_response_norm import LocalResponseNorm

CHANNEL = 7
DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


class _Stop(Exception):
    pass


def _frozen(model: nn.Module, device: torch.device | str) -> nn.Module:
    model = model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def torchvision_trunk(device: torch.device | str) -> tuple[nn.Module, nn.Module]:
    """torchvision's GoogLeNet (random weights, ``transform_input=True``) and its inception4a."""
    torch.manual_seed(0)
    model = torchvision.models.googlenet(
        weights=None, aux_logits=False, init_weights=False, transform_input=True
    )
    model = _frozen(model, device)
    return model, model.inception4a


def optim_inception(
    device: torch.device | str, *, torch_lrn: bool = False, redirected_relu: bool = True
) -> tuple[nn.Module, nn.Module]:
    """optim's InceptionV1 (random weights, ``transform_input=True``) and its mixed4a_relu.

    ``redirected_relu`` builds it as renders use it with pretrained weights; ``torch_lrn``
    swaps its LRN layers for ``nn.LocalResponseNorm`` (the straightforward implementation).
    """
    torch.manual_seed(0)
    model = InceptionV1(transform_input=True, replace_relus_with_redirectedrelu=redirected_relu)
    lrn_class = nn.LocalResponseNorm if torch_lrn else LocalResponseNorm
    for name in ("local_response_norm1", "local_response_norm2"):
        old = getattr(model, name)
        setattr(model, name, lrn_class(old.size, old.alpha, old.beta, old.k))
    model = _frozen(model, device)
    return model, model.mixed4a_relu


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def bare_step(
    model: nn.Module,
    target_module: nn.Module,
    batch: int,
    size: int,
    device: torch.device | str,
    dtype: torch.dtype | None = None,
    *,
    channels_last: bool = False,
) -> Callable[[], None]:
    """One bare step: forward until ``target_module`` has run, channel 7's mean, backward.

    ``dtype`` (``torch.bfloat16`` / ``torch.float16``) runs the forward under
    ``torch.autocast`` with it; ``None`` or ``torch.float32`` is plain float32. The input
    is one float32 tensor in [0, 1] (as an image parameterization would give it), allocated
    once, so the step can also be captured as a CUDA graph. No synchronisation inside:
    callers timing CUDA synchronise around it.
    """
    device = torch.device(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=memory_format)
    x.requires_grad_(True)

    def run() -> None:
        x.grad = None
        captured: list[torch.Tensor] = []

        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            captured.append(output)
            raise _Stop

        handle = target_module.register_forward_hook(hook)
        try:
            with _autocast(device, dtype):
                model(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        captured[0][:, CHANNEL].float().mean().backward()

    return run


def lrn_step(
    lrn: nn.Module,
    shape: tuple[int, ...],
    device: torch.device | str,
    dtype: torch.dtype | None = None,
    *,
    channels_last: bool = False,
) -> Callable[[], None]:
    """An LRN layer alone: forward on a fixed input, sum, backward to the input."""
    device = torch.device(device)
    x = torch.rand(shape, device=device) * 100
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)

    def run() -> None:
        with _autocast(device, dtype):
            out = lrn(x)
        out.float().sum().backward()

    return run


def _timed(fn: Callable[[], None], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def interleaved_medians(
    runners: dict[str, Callable[[], None]], rounds: int, warmup: int, device: torch.device
) -> dict[str, float]:
    """Median seconds per call of each runner, rounds interleaved across runners."""
    times: dict[str, list[float]] = {key: [] for key in runners}
    for round_index in range(warmup + rounds):
        for key, runner in runners.items():
            elapsed = _timed(runner, device)
            if round_index >= warmup:
                times[key].append(elapsed)
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES))
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    memory = "channels_last" if args.channels_last else "contiguous"
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"batch {args.batch}, {args.size} px, {args.dtype}, {memory}, "
        f"{args.rounds} rounds (+{args.warmup} warm-up)"
    )

    models = {
        "torchvision googlenet -> inception4a": torchvision_trunk(device),
        "optim InceptionV1 -> mixed4a_relu": optim_inception(device),
        "  with torch LRN": optim_inception(device, torch_lrn=True),
        "  with plain ReLU": optim_inception(device, redirected_relu=False),
        "  with plain ReLU + torch LRN": optim_inception(
            device, torch_lrn=True, redirected_relu=False
        ),
    }
    runners = {}
    for name, (model, target) in models.items():
        if args.channels_last:
            model.to(memory_format=torch.channels_last)
        runners[name] = bare_step(
            model, target, args.batch, args.size, device, dtype, channels_last=args.channels_last
        )
    medians = interleaved_medians(runners, args.rounds, args.warmup, device)
    reference = medians["torchvision googlenet -> inception4a"]
    print(f"\n{'forward + backward':<38} {'ms':>9} {'vs torchvision':>15}")
    for name, seconds in medians.items():
        print(f"{name:<38} {1000 * seconds:>9.1f} {seconds / reference:>15.2f}")

    # The shapes InceptionV1 gives its two LRN layers at this input size.
    side = -(-args.size // 4)
    lrns = {
        "1": ((args.batch, 64, side, side), (11, 0.0011, 0.5, 2.0)),
        "2": ((args.batch, 192, side, side), (11, 0.0011, 0.5, 2.0)),
        "2, Places365": ((args.batch, 192, side, side), (5, 9.999999747378752e-05, 0.75, 1.0)),
    }
    print(f"\n{'LRN forward + backward':<38} {'torch ms':>9} {'optim ms':>9} {'speed-up':>9}")
    for label, (shape, params) in lrns.items():
        runners = {
            kind: lrn_step(cls(*params), shape, device, dtype, channels_last=args.channels_last)
            for kind, cls in (("torch", nn.LocalResponseNorm), ("optim", LocalResponseNorm))
        }
        result = interleaved_medians(runners, args.rounds, args.warmup, device)
        name = f"LRN {label} {list(shape)}"
        print(
            f"{name:<38} {1000 * result['torch']:>9.2f} {1000 * result['optim']:>9.2f} "
            f"{result['torch'] / result['optim']:>9.2f}"
        )


if __name__ == "__main__":
    main()
