"""The input side of a CPU render step, piece by piece, against the bare model's step.

Times forward + backward (with a fixed random cotangent, as the model's gradient would arrive)
of the pieces that a render step runs before and besides the model, interleaved round by
round, per step medians:

* ``fft``: ``FFTImage((224, 224))`` (scale the coefficients, ``irfft2``);
* ``fft+rgb``: then ``ToRGB`` (the colour recorrelation);
* ``natural``: ``NaturalImage`` (then the sigmoid and the ``ImageTensor`` wrap);
* ``natural+stack``: then the eager ``TransformationRobustness()``;
* ``natural+fused``: then the same stack as one shift and two resamples
  (``FusedTransformationRobustness.from_stack(..., per_sample=False, resize_canvas=True)``,
  what ``FastPath()`` runs on CPU);
* ``adam``: one ``Adam`` update of the image's coefficients;
* ``bare``: EfficientNet-Lite0's step to ``_blocks.10`` (``inception_trunk.bare_step``), the
  reference of the ratios.

Usage:
    python benchmarks/image_side.py --threads 2 --batches 1 8
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from inception_trunk import bare_step

import optim as opt
from optim.transforms import FusedTransformationRobustness, TransformationRobustness

SIZE = 224


def backward_of(build: Callable[[], torch.Tensor], cotangents: dict) -> Callable[[], None]:
    """One forward + backward of ``build()`` with a fixed random gradient for its output."""

    def run() -> None:
        out = build()
        key = tuple(out.shape)
        if key not in cotangents:
            cotangents[key] = torch.randn(key)
        out.backward(cotangents[key])

    return run


def pieces(batch: int) -> dict[str, Callable[[], None]]:
    torch.manual_seed(0)
    fft = opt.images.FFTImage((SIZE, SIZE), batch=batch)
    to_rgb = opt.transforms.ToRGB()
    natural = opt.images.NaturalImage((SIZE, SIZE), batch=batch)
    stack = TransformationRobustness(generator=torch.Generator().manual_seed(0))
    fused = FusedTransformationRobustness.from_stack(
        TransformationRobustness(), per_sample=False, resize_canvas=True
    )
    adam = torch.optim.Adam(natural.parameters(), lr=0.05)
    for p in natural.parameters():
        p.grad = torch.randn_like(p)
    grads: dict = {}

    def plain() -> torch.Tensor:
        return natural().as_subclass(torch.Tensor)

    return {
        "fft": backward_of(fft, grads),
        "fft+rgb": backward_of(lambda: to_rgb(fft()), grads),
        "natural": backward_of(plain, grads),
        "natural+stack": backward_of(lambda: stack(plain()), grads),
        "natural+fused": backward_of(lambda: fused(plain()), grads),
        "adam": adam.step,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20, help="calls per round")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = opt.models.efficientnet_lite0(pretrained=True).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    target = opt.hooks.resolve_target(model, "_blocks.10")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {SIZE} px")
    print(f"{'batch':>5} {'piece':<14} {'ms':>8} {'of bare':>8}")
    for batch in args.batches:
        runners = {"bare": bare_step(model, target, batch, SIZE, "cpu"), **pieces(batch)}
        times: dict[str, list[float]] = {key: [] for key in runners}
        for round_index in range(args.rounds + 1):  # the first round warms up
            for key, run in runners.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    run()
                if round_index:
                    times[key].append((time.perf_counter() - start) / args.steps)
        base = statistics.median(times["bare"])
        for key, values in times.items():
            ms = 1000 * statistics.median(values)
            print(f"{batch:>5} {key:<14} {ms:>8.2f} {ms / 1000 / base:>8.1%}", flush=True)


if __name__ == "__main__":
    main()
