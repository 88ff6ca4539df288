"""Overhead of one optim step over the bare model's forward-to-target + backward-to-input.

For torchvision resnet50, googlenet and vit_b_16 (random weights, 224 px, batch 1 and 8, CPU
by default) it measures, interleaved round by round so both see the same machine load:

* optim step: ``InputOptimization`` with ``NaturalImage`` + ``TransformationRobustness`` and
  a ``ChannelActivation`` objective, one Adam step (image, transforms, forward stopped at
  the target, backward to the image parameters, update); on the ViT's token layer the
  objective reads the patch tokens as a grid (``LayoutView``) and the transforms crop/pad
  back to 224 px, as ``opt.render`` does;
* bare step: the same model on a plain ``[B, 3, 224, 224]`` tensor, forward stopped at the
  target with a raw hook, the channel mean, backward to the input tensor
  (``inception_trunk.bare_step``);
* input: ``NaturalImage`` + ``TransformationRobustness`` forward and backward alone (no
  model), i.e. the part of the optim step that the bare step does not have;
* optionally (``--full``) the optim step with early stopping turned off.

It prints the medians and the ratio optim / bare (target: <= 1.10). Timings are never
asserted anywhere; figures go in benchmarks/README.md.

Usage:
    python benchmarks/step_overhead.py --rounds 5 --warmup 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from inception_trunk import bare_step
from torch import nn

import optim as opt

TARGETS = {
    "resnet50": "layer3",
    "googlenet": "inception4c",
    "vit_b_16": "encoder.layers.encoder_layer_11",
}
CHANNEL = 7


def build_model(name: str) -> nn.Module:
    if name == "resnet50":
        return torchvision.models.resnet50(weights=None).eval()
    if name == "googlenet":
        return torchvision.models.googlenet(
            weights=None, aux_logits=False, init_weights=False
        ).eval()
    if name == "vit_b_16":
        return torchvision.models.vit_b_16(weights=None).eval()
    raise ValueError(f"Unknown model {name!r}; choose from {sorted(TARGETS)}.")


def optim_step(
    model: nn.Module, target_name: str, batch: int, device: torch.device, stop_early: bool
) -> Callable[[], None]:
    """One InputOptimization step with NaturalImage + TransformationRobustness."""
    from optim.rendering.input_size import required_input_size
    from optim.rendering.objective import layer_view

    fixed = required_input_size(model) is not None  # a ViT: crop/pad back to its size
    image = opt.images.NaturalImage((224, 224), batch=batch).to(device)
    transform = opt.transforms.TransformationRobustness(crop_or_pad_output=fixed).to(device)
    view = layer_view(model, target_name, (224, 224))  # tokens: read as a [B, C, H, W] grid
    objective = view.viewed(opt.loss.ChannelActivation(target_name, CHANNEL))
    run = opt.InputOptimization(model, objective, image, transform, stop_early=stop_early)
    optimizer = torch.optim.Adam(run.parameters(), lr=0.025)

    def steps(count: int) -> None:
        # One optimize() call per round, as in real use: its set-up (hooks, stop criteria) is
        # paid once per render, not once per step.
        run.optimize(opt.optimization.n_steps(count, show_progress=False), optimizer=optimizer)

    return steps


def input_step(batch: int, device: torch.device) -> Callable[[], None]:
    """The image and transforms alone: forward, a mean, backward to the image parameters."""
    image = opt.images.NaturalImage((224, 224), batch=batch).to(device)
    transform = opt.transforms.TransformationRobustness().to(device)

    def run() -> None:
        transform(image()).mean().backward()

    return run


def _repeated(fn: Callable[[], None]) -> Callable[[int], None]:
    def run(count: int) -> None:
        for _ in range(count):
            fn()

    return run


def _timed(fn: Callable[[int], None], steps: int, device: torch.device) -> float:
    """Seconds per step of ``fn(steps)``."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn(steps)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps


def measure(
    name: str,
    batch: int,
    rounds: int,
    warmup: int,
    device: torch.device,
    full: bool,
    steps: int,
) -> dict[str, float]:
    torch.manual_seed(0)
    model = build_model(name).to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    target_name = TARGETS[name]
    target = opt.hooks.resolve_target(model, target_name)
    runners = {
        "bare": _repeated(bare_step(model, target, batch, 224, device)),
        "optim": optim_step(model, target_name, batch, device, stop_early=True),
        "input": _repeated(input_step(batch, device)),
    }
    if full:
        runners["optim_full"] = optim_step(model, target_name, batch, device, stop_early=False)
    times: dict[str, list[float]] = {key: [] for key in runners}
    for round_index in range(warmup + rounds):
        for key, runner in runners.items():
            elapsed = _timed(runner, steps, device)
            if round_index >= warmup:
                times[key].append(elapsed)
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full", action="store_true", help="also time without early stop")
    parser.add_argument(
        "--steps", type=int, default=8, help="steps per round (one optimize() call per round)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"rounds {args.rounds} (+{args.warmup} warm-up) x {args.steps} steps"
    )
    header = (
        f"{'model':<10} {'target':<12} {'batch':>5} {'bare ms':>9} {'optim ms':>9} "
        f"{'ratio':>6} {'input ms':>9}"
    )
    if args.full:
        header += f" {'no-early-stop ms':>17}"
    print(header)
    for name in args.models:
        for batch in args.batches:
            result = measure(name, batch, args.rounds, args.warmup, device, args.full, args.steps)
            line = (
                f"{name:<10} {TARGETS[name]:<12} {batch:>5} {1000 * result['bare']:>9.1f} "
                f"{1000 * result['optim']:>9.1f} {result['optim'] / result['bare']:>6.2f} "
                f"{1000 * result['input']:>9.1f}"
            )
            if args.full:
                line += f" {1000 * result['optim_full']:>17.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
