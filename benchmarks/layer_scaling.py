"""Channels per second of one layer job on 1 vs N torchrun processes (CPU: one thread each).

Runs the same ``optim layer`` job with ``torchrun --standalone --nproc-per-node P`` for each
P in ``--procs``, each into a fresh folder. Rendering throughput is read from the channel
manifests: each records its batch's optimisation time, batch ``k`` ran on rank ``k mod P``,
and the job's rendering time is the slowest rank's sum, so ``channels/s = channels / max over
ranks``; process start and model loading (the end-to-end time is printed too) are left out.
Scaling efficiency is ``rate(P) / (P * rate(1))``. Also checks that every run wrote
byte-identical channel PNGs.

Example:
    python benchmarks/layer_scaling.py                     # 1 vs 2 processes, CPU
    python benchmarks/layer_scaling.py --procs 1 2 4 --device cuda --threads 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(command: list[str], threads: int) -> float:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    started = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, env=env)
    if process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{process.stderr}")
    return time.perf_counter() - started


def _rendering_seconds(out: Path, procs: int) -> float:
    """The slowest rank's optimisation time, from the channel manifests."""
    batches = {}
    for path in (out / "channels").glob("*.json"):
        manifest = json.loads(path.read_text())
        batches[tuple(manifest["settings"]["channels"])] = manifest["result"]["wall_time_s_batch"]
    ranks = [0.0] * procs
    for k, batch in enumerate(sorted(batches)):
        ranks[k % procs] += batches[batch]
    return max(ranks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--layer", default="_blocks.4")
    parser.add_argument("--channels", default="0-15")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="per process; 0: torch's choice")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    job = ["layer", args.layer, "--model", args.model, "--channels", args.channels,
           "--batch-size", str(args.batch_size), "--size", str(args.size), "--steps",
           str(args.steps), "--seed", "0", "--device", args.device, "--no-progress"]  # fmt: skip
    count = sum(
        int(b) - int(a) + 1 if "-" in part else 1
        for part in args.channels.split(",")
        for a, _, b in [part.partition("-")]
    )
    rates, pngs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for procs in args.procs:
            out = Path(tmp) / f"p{procs}"
            launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                      "--nproc-per-node", str(procs), "-m", "optim.cli"]  # fmt: skip
            total = _timed([*launch, *job, "--out", str(out)], args.threads)
            rendering = _rendering_seconds(out, procs)
            rates[procs] = count / rendering
            pngs[procs] = {p.name: p.read_bytes() for p in (out / "channels").glob("*.png")}
            print(
                f"{procs} process(es) x {args.threads or 'default'} thread(s): end to end "
                f"{total:.1f} s, rendering {rendering:.1f} s, {rates[procs]:.2f} channels/s"
            )
    base = args.procs[0]
    for procs in args.procs[1:]:
        efficiency = rates[procs] / (procs / base * rates[base])
        same = pngs[procs] == pngs[base]
        print(
            f"{procs} vs {base}: speed-up {rates[procs] / rates[base]:.2f}x, scaling efficiency "
            f"{efficiency:.0%}, PNGs byte-identical: {same}"
        )
    print(
        f"{args.model} {args.layer} channels {args.channels} (batches of {args.batch_size}), "
        f"{args.size} px, {args.steps} steps, device {args.device}, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
