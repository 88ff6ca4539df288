"""CPU cost of one render step against the bare model, with each switch off, and Lucent's.

For EfficientNet-Lite0 (its real ImageNet weights, ``_blocks.10``), InceptionV1
(``opt.models.googlenet``, random weights in the pretrained configuration, ``mixed4a``) and
torchvision resnet50 (random
weights, ``layer3``) at 224 px and batch 1 / 8 it times, interleaved round by round (each round
one ``optimize()`` call of ``--steps`` steps, so both sides see the same machine load), the
median per step of the following. A render's step is timed from one optimizer step's end to
the next (``TimedAdam``), so what a render does once per call (hooks, the batch-norm probe,
the final objective) is left out for optim and Lucent alike: those are per render, and a render
is hundreds of steps.

* ``bare``: the model on a fixed ``[B, 3, 224, 224]`` tensor, forward stopped at the target,
  channel 7's mean, backward to the input (``inception_trunk.bare_step``, plain eager);
* ``optim``: ``InputOptimization`` with ``NaturalImage`` + ``TransformationRobustness()`` and
  ``ChannelActivation(target, 7)``, default ``FastPath()`` (the switches on where they help);
* ``optim -fold`` / ``optim -fuse`` / ``optim -cl``: the same with ``fold_batchnorm`` /
  ``fuse_transforms`` / ``channels_last`` off;
* ``optim lucent-tf``: optim with Lucent's own transform stack (``standard_transforms``);
* ``optim lucent-fused``: optim with Lucent's stack's parameters as one fused warp (pad 12
  with 0.5, jitter 8, zoom 0.9-1.1, rotation -10..10 degrees, jitter 4);
* ``lucent``: Lucent 0.1.8's ``render_vis`` step (its FFT image, its transforms, its whole
  forward), when ``lucent`` imports (``pip install --no-deps torch-lucent==0.1.8
  kornia==0.4.1 decorator ipython``).

It prints medians, ratios to ``bare`` and the final objective of each optim/Lucent render
(the mean of channel 7 at the target on the final, untransformed image), so speed never hides
a quality loss. Timings are never asserted; figures go in benchmarks/README.md.

oneDNN's primitive cache is raised to 16384 entries (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``, set
before torch loads unless already set): one render's canvas takes some 80 sizes and needs about
1000 convolution primitives, which fit the default 1024 entries, but eight renders interleaved
round by round need several times that, and with the default each round would rebuild the
primitives the other renders evicted (about 0.16 ms each), a cost no single render pays.
``ONEDNN_PRIMITIVE_CACHE_CAPACITY=1024`` measures with the default.

Usage:
    python benchmarks/cpu_step.py --threads 2 --rounds 5 --steps 8
"""

from __future__ import annotations

import os

os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384")  # before torch loads oneDNN

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from inception_trunk import bare_step
from torch import nn

import optim as opt
from optim.optimization import FastPath

CHANNEL = 7
MODELS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "lite0": (lambda: opt.models.efficientnet_lite0(pretrained=True), "_blocks.10"),
    # random weights in the pretrained configuration (input transform, redirected ReLUs), so
    # that a channel dead at init still moves
    "inceptionv1": (
        lambda: opt.models.googlenet(
            pretrained=False, transform_input=True, replace_relus_with_redirectedrelu=True
        ),
        "mixed4a",
    ),
    "resnet50": (lambda: torchvision.models.resnet50(weights=None), "layer3"),
}


def lucent_fused() -> nn.Module:
    """Lucent's ``standard_transforms`` distribution as optim's one-warp transform."""
    return opt.transforms.FusedTransformationRobustness(
        padding=12, fill=0.5, translate=[4], scale=[1 + (i - 5) / 50 for i in range(11)],
        degrees=list(range(-10, 11)) + 5 * [0], final_translate=2, per_sample=False,
        resize_canvas=True,
    )  # fmt: skip


def lucent_transforms() -> nn.Module | None:
    try:
        from lucent.optvis import transform
    except ImportError:
        return None

    class Lucent(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return transform.compose(transform.standard_transforms)(x)

    return Lucent()


class TimedAdam(torch.optim.Adam):
    """Adam that records when each step ends: two ends enclose one whole render step.

    Timing between steps leaves out what a render does once per ``optimize()`` call (hooks,
    the batch-norm probe, the final objective), which 512 steps amortise but 8 would not.
    """

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.ends: list[float] = []

    def step(self, closure=None):
        loss = super().step(closure)
        self.ends.append(time.perf_counter())
        return loss


class OptimRender:
    """One optim render, advanced ``steps`` steps per call (one ``optimize()`` each)."""

    def __init__(self, model, target, batch, fast_path, transform=None, seed=0):
        torch.manual_seed(seed)
        self.image = opt.images.NaturalImage((224, 224), batch=batch)
        transform = transform or opt.transforms.TransformationRobustness()
        self.objective = opt.loss.ChannelActivation(target, CHANNEL)
        self.run = opt.InputOptimization(model, self.objective, self.image, transform)
        self.optimizer = TimedAdam(self.run.parameters(), lr=0.05)
        self.fast_path = fast_path
        self.model, self.target = model, target

    def __call__(self, steps: int) -> None:
        stop = opt.optimization.n_steps(steps, show_progress=False)
        self.run.optimize(stop, optimizer=self.optimizer, fast_path=self.fast_path)

    def final(self) -> float:
        module = opt.hooks.resolve_target(self.model, self.target)
        with torch.no_grad():
            acts = opt.hooks.collect_activations(self.model, [module], self.image())[module]
        return float(acts[:, CHANNEL].mean())


class LucentRender:
    """Lucent 0.1.8's render_vis, ``steps`` steps per call, continuing the same image."""

    def __init__(self, model, target, batch, seed=0):
        from lucent.optvis import objectives, param, render

        torch.manual_seed(seed)
        self.render = render
        self.params, self.image_f = param.image(224, batch=batch)
        self.objective = objectives.channel(target.replace(".", "_"), CHANNEL)
        self.model, self.target = model, target
        self.optimizer = TimedAdam(self.params, lr=0.05)

    def __call__(self, steps: int) -> None:
        self.render.render_vis(
            self.model, self.objective, param_f=lambda: (self.params, self.image_f),
            optimizer=lambda _: self.optimizer, thresholds=(steps,), show_image=False,
            progress=False, fixed_image_size=None, preprocess=False,
        )  # fmt: skip

    def final(self) -> float:
        module = opt.hooks.resolve_target(self.model, self.target)
        with torch.no_grad():
            acts = opt.hooks.collect_activations(self.model, [module], self.image_f())[module]
        return float(acts[:, CHANNEL].mean())


def measure(name: str, batch: int, args) -> None:
    build, target = MODELS[name]
    torch.manual_seed(0)
    model = build().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    module = opt.hooks.resolve_target(model, target)
    bare = bare_step(model, module, batch, 224, "cpu")
    runners: dict[str, Callable[[int], None]] = {"bare": lambda n: [bare() for _ in range(n)]}
    renders = {
        "optim": OptimRender(model, target, batch, FastPath()),
        "optim -fold": OptimRender(model, target, batch, FastPath(fold_batchnorm=False)),
        "optim -fuse": OptimRender(model, target, batch, FastPath(fuse_transforms=False)),
        "optim -cl": OptimRender(model, target, batch, FastPath(channels_last=False)),
    }
    lucent_tf = lucent_transforms()
    if lucent_tf is not None and not args.no_lucent:
        renders["optim lucent-tf"] = OptimRender(model, target, batch, FastPath(), lucent_tf)
        renders["optim lucent-fused"] = OptimRender(
            model, target, batch, FastPath(), lucent_fused()
        )
        renders["lucent"] = LucentRender(model, target, batch)
    runners.update(renders)
    if args.variants:
        keep = {"bare", *args.variants}  # the ratios are to the bare step
        runners = {key: run for key, run in runners.items() if key in keep}
        renders = {key: run for key, run in renders.items() if key in args.variants}
    times: dict[str, list[float]] = {key: [] for key in runners}
    for round_index in range(args.warmup + args.rounds):
        for key, runner in runners.items():
            start = time.perf_counter()
            runner(args.steps)
            if round_index < args.warmup:
                continue
            if key in renders:  # from the first step's end to the last's: steps - 1 steps
                ends = renders[key].optimizer.ends[-args.steps :]
                times[key].append((ends[-1] - ends[0]) / (args.steps - 1))
            else:
                times[key].append((time.perf_counter() - start) / args.steps)
    base = statistics.median(times["bare"])
    for key, values in times.items():
        ms = 1000 * statistics.median(values)
        final = f"{renders[key].final():8.3f}" if key in renders else " " * 8
        print(
            f"{name:<12} {batch:>5} {key:<19} {ms:>9.1f} {ms / 1000 / base:>6.2f} {final}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--steps", type=int, default=8, help="steps per round (at least 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-lucent", action="store_true", help="skip Lucent's steps")
    parser.add_argument(
        "--variants", nargs="+", default=None, help='rows besides bare, e.g. optim "optim -cl"'
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cache = os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"]
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, rounds {args.rounds} "
        f"(+{args.warmup} warm-up) x {args.steps} steps, oneDNN primitive cache {cache}; final "
        "objective after all rounds"
    )
    print(f"{'model':<12} {'batch':>5} {'variant':<19} {'ms/step':>9} {'ratio':>6} {'final':>8}")
    for name in args.models:
        for batch in args.batches:
            measure(name, batch, args)


if __name__ == "__main__":
    main()
