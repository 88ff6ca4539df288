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
ratio optim / bare. Then it renders the same seed for 512 steps in float32 and in bf16 and
compares the final objectives, and it ends with issue 10's acceptance lines evaluated and a
markdown table for benchmarks/README.md. Random weights throughout; nothing here asserts a
timing.

Usage:
    python benchmarks/gpu_throughput.py                      # CUDA, batches 1 16 64 256
    python benchmarks/gpu_throughput.py --device cpu --batches 1 2 --size 64 --steps 4
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

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


@dataclass
class Row:
    """One measurement: a bare step or an optim configuration at one batch size."""

    name: str
    batch: int
    seconds: float
    peak_mib: float
    bare_seconds: float | None = None  # the bare step of our model at the same precision

    @property
    def renders_per_second(self) -> float:
        return self.batch / (RENDER_STEPS * self.seconds)

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.bare_seconds if self.bare_seconds else None

    def line(self) -> str:
        ratio = f"{self.ratio:>6.2f}" if self.ratio is not None else f"{'':>6}"
        return (
            f"{self.name:<22} {self.batch:>5} {1000 * self.seconds:>9.2f} "
            f"{self.renders_per_second:>10.2f} {self.peak_mib:>9.0f} {ratio}"
        )

    def markdown(self) -> str:
        ratio = f"{self.ratio:.2f}" if self.ratio is not None else ""
        return (
            f"| {self.name} | {self.batch} | {1000 * self.seconds:.2f} | "
            f"{self.renders_per_second:.2f} | {self.peak_mib:.0f} | {ratio} |"
        )


def precision_check(
    model: nn.Module, target: nn.Module, batch: int, size: int, steps: int, device: torch.device
) -> dict[str, float]:
    """Final objective of a ``steps``-step render per precision, same seed (fast path)."""
    finals = {}
    for name in ("fast", "fast-bf16"):
        _, _, objective = optim_step_time(
            model, target, batch, size, CONFIGS[name], 0, steps, device
        )
        finals[name] = objective
    return finals


def acceptance(rows: list[Row], finals: dict[str, float]) -> list[str]:
    """Issue 10's acceptance lines, each with the measured figure and PASS/FAIL."""

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    fast = [r for r in rows if r.name.startswith("optim fast")]
    lines = []
    if fast:
        best = max(fast, key=lambda r: r.renders_per_second)
        limit = [r for r in rows if r.name == "bare torchvision bf16"]
        limit_rate = max((r.renders_per_second for r in limit), default=float("nan"))
        lines.append(
            f"{verdict(best.renders_per_second >= 13.5)} best throughput "
            f"{best.renders_per_second:.2f} renders/s ({best.name}, batch {best.batch}; "
            f">= 13.5; {best.renders_per_second / limit_rate:.0%} of the bf16 trunk limit "
            f"{limit_rate:.2f}, target >= 85%)"
        )
        singles = [r for r in fast if r.batch == 1]
        if singles:
            single = min(singles, key=lambda r: r.seconds)
            lines.append(
                f"{verdict(single.seconds <= 3e-3)} single render {1000 * single.seconds:.2f} "
                f"ms/step ({single.name}; <= 3)"
            )
        worst = max(fast, key=lambda r: r.ratio or 0.0)
        lines.append(
            f"{verdict((worst.ratio or 0.0) <= 1.2)} step / bare step <= 1.2 at every batch: "
            f"worst {worst.ratio:.2f} ({worst.name}, batch {worst.batch})"
        )
    trunk = {(r.name, r.batch): r.seconds for r in rows if r.name.startswith("bare")}
    for precision in ("fp32", "bf16"):
        ours, theirs = (
            trunk.get((f"bare optim {precision}", 64)),
            trunk.get((f"bare torchvision {precision}", 64)),
        )
        if ours and theirs:
            lines.append(
                f"{verdict(ours <= 1.2 * theirs)} bare InceptionV1 / torchvision trunk at batch "
                f"64, {precision}: {ours / theirs:.2f} (<= 1.2)"
            )
    if len(finals) == 2:
        fp32, bf16 = finals["fast"], finals["fast-bf16"]
        difference = abs(bf16 - fp32) / abs(fp32)
        lines.append(
            f"{verdict(difference <= 0.05)} bf16 final objective {bf16:.4g} vs fp32 {fp32:.4g}: "
            f"{difference:.1%} apart (<= 5%)"
        )
    return lines


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
    parser.add_argument(
        "--precision-steps", type=int, default=RENDER_STEPS, help="0 skips the bf16 check"
    )
    parser.add_argument("--precision-batch", type=int, default=4)
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
    rows: list[Row] = []
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
                rows.append(Row(f"{label} {precision}", batch, seconds, peak))
                print(rows[-1].line(), flush=True)
        for name in args.configs:
            precision = "bf16" if "bf16" in name else "fp32"
            seconds, peak, objective = optim_step_time(
                ours, ours.mixed4a, batch, args.size, CONFIGS[name], args.warmup, args.steps, device
            )
            rows.append(Row(f"optim {name}", batch, seconds, peak, bare[f"bare optim {precision}"]))
            print(f"{rows[-1].line()}  objective {objective:.3g}", flush=True)
    finals: dict[str, float] = {}
    if args.precision_steps > 0:
        finals = precision_check(
            ours, ours.mixed4a, args.precision_batch, args.size, args.precision_steps, device
        )
        print(
            f"\nfinal objective after {args.precision_steps} steps, batch {args.precision_batch},"
            f" seed 0: " + ", ".join(f"{k} {v:.4g}" for k, v in finals.items())
        )
    print("\nAcceptance (issue 10):")
    for line in acceptance(rows, finals):
        print("  " + line)
    print(f"\n{gpu}, torch {torch.__version__}, {args.size} px, random weights\n")
    print("| step | batch | ms/step | renders/s (512 steps) | peak MiB | step / bare |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(row.markdown())


if __name__ == "__main__":
    main()
