"""Batched layer rendering vs one render per channel (EfficientNet-Lite0, CPU by default).

Renders the same channels twice with the same settings and seed: once with
``opt.render_layer`` (``--batch-size`` channels per optimisation, one batch slot each) and
once as one ``opt.render`` call per channel, and prints the wall times, channel-steps per
second and the speed-up. (A layer job starts each channel from its own seed, derived from
the seed, the layer and the channel, so the two ways render from different start images.)

Example:
    python benchmarks/render_layer.py                       # 16 channels, batches of 8, 64 px
    python benchmarks/render_layer.py --size 128 --steps 32 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import optim as opt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--layer", default="_blocks.4")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--rounds", type=int, default=1, help="interleaved rounds; medians are reported"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = opt.models.get_model(args.model, pretrained=True).to(args.device).eval()
    settings = {"size": args.size, "steps": args.steps, "seed": args.seed,
                "device": args.device, "show_progress": False}  # fmt: skip
    channels = list(range(args.channels))
    opt.render(model, f"{args.layer}:0", **{**settings, "steps": 2})  # warm-up

    batched_times, single_times = [], []
    for _ in range(args.rounds):  # interleaved, so both ways see the same machine load
        started = time.perf_counter()
        opt.render_layer(model, args.layer, channels, batch_size=args.batch_size, **settings)
        batched_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        for c in channels:
            opt.render(model, f"{args.layer}:{c}", **settings)
        single_times.append(time.perf_counter() - started)
    batched_s, single_s = statistics.median(batched_times), statistics.median(single_times)

    channel_steps = args.channels * args.steps
    print(
        f"{args.model} {args.layer}, {args.channels} channels, {args.size} px, {args.steps} "
        f"steps, device {args.device}, torch threads {torch.get_num_threads()}, "
        f"median of {args.rounds} round(s)"
    )
    print(
        f"render_layer, batches of {args.batch_size}: {batched_s:7.2f} s "
        f"({channel_steps / batched_s:6.1f} channel-steps/s)"
    )
    print(
        f"{args.channels} single renders:          {single_s:7.2f} s "
        f"({channel_steps / single_s:6.1f} channel-steps/s)"
    )
    print(f"speed-up: {single_s / batched_s:.2f}x")


if __name__ == "__main__":
    main()
