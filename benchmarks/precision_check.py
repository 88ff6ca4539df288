"""bf16 (and fp16) renders against float32, or the CPU switches on against off: the same
channels from the same seed.

Renders ``--channels`` channels of ``--layer`` with ``opt.render_layer`` once per precision
(``FastPath(autocast=...)``: the model runs in reduced precision; image, transforms and
objective stay float32) and compares, per channel, the final objective (evaluated in float32
on the final image) and the images. Issue 10 asks for bf16 renders within 5% of float32. As a
control, float32 with the next seed is compared the same way: how much a render's outcome
varies anyway. ``--switches`` compares instead the default render (fused transforms, folded
batch norms, channels-last) with those switches off, the default with only the fused warp off
(which switch moves the outcome), and the switches off with the next seed as the control.

Usage:
    python benchmarks/precision_check.py          # EfficientNet-Lite0, real weights, CPU
    python benchmarks/precision_check.py --device cuda --precisions bf16 fp16
    python benchmarks/precision_check.py --model googlenet --layer mixed4a --random-weights
    python benchmarks/precision_check.py --switches
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import optim as opt
from optim.optimization import FastPath


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--layer", default="_blocks.10")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["bf16"], choices=["bf16", "fp16"])
    parser.add_argument("--random-weights", action="store_true", help="no pretrained weights")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--switches", action="store_true", help="fused warp + folded BN + channels-last on vs off"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model = opt.models.get_model(args.model, pretrained=not args.random_weights)
    model = model.to(args.device).eval()
    channels = list(range(args.channels))
    settings = {"channels": channels, "batch_size": args.channels, "size": args.size}
    settings |= {"steps": args.steps, "seed": args.seed, "show_progress": False}
    results, seconds = {}, {}
    if args.switches:
        off = FastPath(fuse_transforms=False, fold_batchnorm=False, channels_last=False)
        runs = [("fp32", off, args.seed), ("switches on", FastPath(), args.seed)]
        runs.append(("switches on but -fuse", FastPath(fuse_transforms=False), args.seed))
        runs.append((f"fp32, seed {args.seed + 1}", off, args.seed + 1))
    else:
        runs = [("fp32", FastPath(), args.seed)]
        runs += [(p, FastPath(autocast=p), args.seed) for p in args.precisions]
        runs.append((f"fp32, seed {args.seed + 1}", FastPath(), args.seed + 1))
    for name, fast_path, seed in runs:
        started = time.perf_counter()
        results[name] = opt.render_layer(
            model, args.layer, fast_path=fast_path, **{**settings, "seed": seed}
        )
        seconds[name] = time.perf_counter() - started

    weights = "random weights" if args.random_weights else "pretrained"
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(
        f"{args.model} ({weights}) {args.layer}, channels 0-{args.channels - 1}, {args.size} px, "
        f"{args.steps} steps, seed {args.seed}, {device}, torch {torch.__version__}"
    )
    reference = torch.tensor(results["fp32"].final_objectives)
    first = "fp32 (switches off)" if args.switches else "fp32"
    print(f"{first}: mean final objective {reference.mean():.4g} ({seconds['fp32']:.1f} s)")
    for precision in [name for name, _, _ in runs[1:]]:
        result = results[precision]
        finals = torch.tensor(result.final_objectives)
        relative = ((finals - reference).abs() / reference.abs()).tolist()
        pixels = (result.images - results["fp32"].images).abs()
        within = sum(r <= 0.05 for r in relative)
        print(
            f"{precision}: mean final objective {finals.mean():.4g} "
            f"({float(finals.mean() / reference.mean()):.1%} of fp32); per channel "
            f"|difference| median {statistics.median(relative):.1%}, max {max(relative):.1%}, "
            f"{within}/{len(relative)} within 5%; pixels |difference| mean {pixels.mean():.3f}, "
            f"max {pixels.max():.3f} ({seconds[precision]:.1f} s)"
        )


if __name__ == "__main__":
    main()
