"""Rendering throughput of InceptionV1 at 224 px: optim's step against the bare model.

For every batch size it times, on the same device in the same run:

* **optim**: ``InputOptimization.optimize`` with ``NaturalImage((224, 224), batch=B)``, the
  standard ``TransformationRobustness``, ``ChannelActivation(model.mixed4a, 465)`` and Adam,
  for each FastPath configuration asked for (default: ``plain`` = ``FastPath.off()``,
  ``fast`` = ``FastPath()`` (channels_last + fused transforms + CUDA graph on a GPU), and
  ``fast-bf16`` = the same with bf16 autocast);
* **bare**: the model alone on a ``[B, 3, 224, 224]`` tensor, forward stopped after mixed4a
  (``inception_trunk.bare_step``), a channel mean, backward to the input, at the same
  precision and memory format, replayed as a CUDA graph on a GPU (the limit of a step);
* **torchvision**: the same bare step on torchvision's GoogLeNet trunk (cut after
  inception4a), the reference implementation of this architecture.

It prints ms/step, renders/s at 512 steps (``B / (512 * step)``), peak GPU memory, and the
ratio optim / bare. Random weights throughout; nothing here asserts a timing (figures go in
benchmarks/README.md, with the GPU's name).

Usage:
    python benchmarks/gpu_throughput.py                      # CUDA, batches 1 16 64 256
    python benchmarks/gpu_throughput.py --device cpu --batches 1 2 --size 64 --steps 4
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import ExitStack

import torch
from inception_trunk import bare_step, optim_inception, torchvision_trunk
from torch import nn

import optim as opt
from optim.optimization import FastPath
from optim.optimization.model_settings import channels_last_parameters, frozen_parameters

CHANNEL = 465
RENDER_STEPS = 512

CONFIGS: dict[str, FastPath] = {
    "plain": FastPath.off(),
    "fast": FastPath(),
    "fast-bf16": FastPath(autocast="bf16"),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0


class TimedSteps:
    """Stop criterion: ``warmup + steps`` steps, timing the last ``steps`` (two syncs only)."""

    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup, self.steps, self.device = warmup, steps, device
        self.started = 0.0
        self.seconds_per_step = float("nan")

    def __call__(self, step: int, *_: object) -> bool:
        if step == self.warmup:
            _sync(self.device)
            self.started = time.perf_counter()
        if step == self.warmup + self.steps:
            _sync(self.device)
            self.seconds_per_step = (time.perf_counter() - self.started) / self.steps
            return False
        return True


def optim_step_time(
    model: nn.Module,
    target: nn.Module,
    batch: int,
    size: int,
    fast_path: FastPath,
    warmup: int,
    steps: int,
    device: torch.device,
) -> tuple[float, float, float]:
    """(seconds per step, peak MiB, last objective) of a render with ``fast_path``.

    The model's weights require gradients as in a user's model; the FastPath decides.
    """
    for param in model.parameters():
        param.requires_grad_(True)
    torch.manual_seed(0)
    image = opt.images.NaturalImage((size, size), batch=batch).to(device)
    transform = opt.transforms.TransformationRobustness().to(device)
    run = opt.InputOptimization(
        model, opt.loss.ChannelActivation(target, CHANNEL), image, transform
    )
    timer = TimedSteps(warmup, steps, device)
    _reset_peak(device)
    history = run.optimize(timer, lr=0.05, fast_path=fast_path)
    for param in model.parameters():
        param.requires_grad_(False)
    return timer.seconds_per_step, _peak_mib(device), -float(history[-1])


def graphed(run: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """``run`` captured as a CUDA graph (after warm-up on a side stream); eager elsewhere."""
    if device.type != "cuda":
        return run
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            run()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run()
    return graph.replay


def bare_step_time(
    model: nn.Module,
    target: nn.Module,
    batch: int,
    size: int,
    device: torch.device,
    autocast: torch.dtype | None,
    channels_last: bool,
    steps: int,
) -> tuple[float, float]:
    """(seconds per bare step, peak MiB); the model is left as it was."""
    _reset_peak(device)
    with ExitStack() as stack:
        stack.enter_context(frozen_parameters(model))
        if channels_last:
            stack.enter_context(channels_last_parameters(model))
        step = bare_step(model, target, batch, size, device, autocast, channels_last=channels_last)
        run = graphed(step, device)
        run()
        _sync(device)
        started = time.perf_counter()
        for _ in range(steps):
            run()
        _sync(device)
        seconds = (time.perf_counter() - started) / steps
    return seconds, _peak_mib(device)


def _line(name: str, batch: int, seconds: float, peak: float, bare: float | None) -> str:
    renders = batch / (RENDER_STEPS * seconds)
    ratio = f"{seconds / bare:>6.2f}" if bare else f"{'':>6}"
    return f"{name:<22} {batch:>5} {1000 * seconds:>9.2f} {renders:>10.2f} {peak:>9.0f} {ratio}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16, 64, 256])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument(
        "--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS), help="FastPaths"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("CUDA is not available; pass --device cpu for a smoke run.")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"torch {torch.__version__}, {gpu}, {args.size} px, {args.steps} timed steps after "
        f"{args.warmup}; renders/s assume {RENDER_STEPS} steps per render"
    )
    print(f"{'':<22} {'batch':>5} {'ms/step':>9} {'renders/s':>10} {'peak MiB':>9} {'/bare':>6}")
    ours, ours_target = optim_inception(device)  # frozen, target mixed4a_relu
    reference, reference_target = torchvision_trunk(device)
    for batch in args.batches:
        bare: dict[str, float] = {}
        for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            if precision == "bf16" and not any("bf16" in c for c in args.configs):
                continue
            channels_last = device.type == "cuda"
            for label, model, target in (
                ("bare optim", ours, ours_target),
                ("bare torchvision", reference, reference_target),
            ):
                seconds, peak = bare_step_time(
                    model, target, batch, args.size, device, dtype, channels_last, args.steps
                )
                bare[f"{label} {precision}"] = seconds
                print(_line(f"{label} {precision}", batch, seconds, peak, None), flush=True)
        for name in args.configs:
            precision = "bf16" if "bf16" in name else "fp32"
            seconds, peak, objective = optim_step_time(
                ours, ours.mixed4a, batch, args.size, CONFIGS[name], args.warmup, args.steps, device
            )
            line = _line(f"optim {name}", batch, seconds, peak, bare[f"bare optim {precision}"])
            print(f"{line}  objective {objective:.3g}", flush=True)


if __name__ == "__main__":
    main()
