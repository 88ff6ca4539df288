"""Dataset exemplars: images per second and peak memory streaming N images (CPU by default).

The images are synthesised from the eight real photos of scikit-image and scikit-learn by
random crops (a quarter to all of the photo) and horizontal flips, generated batch by batch
(the stream is never held in memory). Each N runs in its own process, so its peak resident
memory (``ru_maxrss``) is its own: memory flat in N means the top-k keeps O(channels x k).

Example:
    python benchmarks/exemplars.py                          # 1000 and 3000 images
    python benchmarks/exemplars.py --counts 500 --layer _fc
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _photos():
    import numpy as np
    import skimage.data
    from sklearn.datasets import load_sample_images

    names = ("chelsea", "coffee", "astronaut", "rocket", "camera", "cat", "hubble_deep_field")
    photos = [getattr(skimage.data, n)() for n in names] + list(load_sample_images().images)
    return [np.stack([p] * 3, -1) if p.ndim == 2 else p[..., :3] for p in photos]


def _stream(count: int, size: int, batch: int, seed: int = 0):
    import torch
    import torchvision.transforms.v2.functional as TF

    photos = [torch.from_numpy(p).permute(2, 0, 1).float() / 255 for p in _photos()]
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, count, batch):
        images = []
        for _ in range(min(batch, count - start)):
            photo = photos[int(torch.randint(len(photos), (1,), generator=generator))]
            height, width = photo.shape[-2:]
            side = int(min(height, width) * (0.5 + 0.5 * float(torch.rand(1, generator=generator))))
            top = int(torch.randint(height - side + 1, (1,), generator=generator))
            left = int(torch.randint(width - side + 1, (1,), generator=generator))
            crop = TF.resize(photo[:, top : top + side, left : left + side], [size, size],
                             antialias=True)  # fmt: skip
            if float(torch.rand(1, generator=generator)) < 0.5:
                crop = crop.flip(-1)
            images.append(crop)
        yield torch.stack(images)


def _one(count: int, args: argparse.Namespace) -> dict:
    import torch

    import optim as opt

    if args.threads:
        torch.set_num_threads(args.threads)
    model = opt.models.efficientnet_lite0(pretrained=True).eval()
    started = time.perf_counter()
    found = opt.dataset.top_exemplars(
        model, args.layer, _stream(count, args.size, args.batch_size), k=args.k, size=args.size,
        show_progress=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return {
        "images": found.images_seen,
        "seconds": seconds,
        "channels": len(found.channels),
        "crop": list(found.field.size),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "result_mb": sum(t.numel() * t.element_size() for t in
                         (found.values, found.indices, found.positions, found.crops)) / 2**20,
        "threads": torch.get_num_threads(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--layer", default="_blocks.10")
    parser.add_argument("--k", type=int, default=9)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_one(args.child, args)))
        return
    rows = []
    for count in args.counts:
        command = [sys.executable, __file__, *sys.argv[1:], "--child", str(count)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print(f"EfficientNet-Lite0 {args.layer}, k={args.k}, {args.size} px, batches of "
          f"{args.batch_size}, {rows[0]['threads']} threads")  # fmt: skip
    print("| images | seconds | images/s | peak RSS MB | top-k result MB |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['images']} | {row['seconds']:.1f} | {row['images'] / row['seconds']:.1f} "
              f"| {row['peak_rss_mb']:.0f} | {row['result_mb']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
