# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Activation atlas
#
# A single channel is one direction in a layer's activation space; the images a network
# sees occupy a much richer region of it. An **activation atlas** (Carter et al., Distill
# 2019) maps that region: collect the layer's activation vectors at every position of many
# images, lay them out in 2D, average the vectors that fall into each cell of a grid, and
# render each average. Neighbouring cells show related concepts.
#
# Here the images are random crops of the six photos that ship with scikit-image and
# scikit-learn, and the layer is `_blocks.10` of EfficientNet-Lite0 (real weights, offline).
# The settings are tiny: a 4x4 grid of 48 px cells, 32 steps each, and t-SNE for the layout.
# **For full quality** use thousands of images (a folder of your own photos through
# `opt.dataset.image_folder_loader`), `grid_size=(20, 20)`, `cell_size=80`, `steps=256`
# and the default UMAP layout (it compiles its kernels on first use, tens of seconds).

# %%
# %matplotlib inline
import warnings

import matplotlib.pyplot as plt
import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from sklearn.datasets import load_sample_images

import optim as opt

# %% tags=["remove-input"]
warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars only

# %%
model = opt.models.efficientnet_lite0(pretrained=True).eval()


def random_crops(photo: np.ndarray, count: int, size: int, generator: torch.Generator):
    """`count` random square crops of an HxWx3 uint8 photo, resized: [count, 3, size, size]."""
    image = torch.from_numpy(photo.copy()).permute(2, 0, 1).float() / 255
    height, width = image.shape[-2:]
    shortest = min(height, width)
    crops = []
    for _ in range(count):
        side = int(torch.randint(shortest // 3, shortest + 1, (1,), generator=generator))
        top = int(torch.randint(0, height - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - side + 1, (1,), generator=generator))
        crop = image[None, :, top : top + side, left : left + side]
        crops.append(F.interpolate(crop, size=(size, size), mode="area"))
    return torch.cat(crops)


photos = [getattr(skimage.data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")]
photos += list(load_sample_images().images)  # china.jpg, flower.jpg
generator = torch.Generator().manual_seed(0)
images = torch.cat([random_crops(photo, 6, 128, generator) for photo in photos])
print("images:", tuple(images.shape))
opt.show(images[::6], images_per_row=6, figsize=(12, 2.5))

# %% [markdown]
# ## Building the atlas
#
# `opt.reducer.activation_atlas` runs the whole pipeline: samples every position of
# `_blocks.10` (an 8x8 grid per 128 px image), lays the vectors out with the `layout`
# reducer, keeps the cells holding at least `min_density` samples and renders each cell's
# average direction with `AngledNeuronDirection`, `batch_size` cells at a time.

# %%
atlas = opt.reducer.activation_atlas(
    model,
    "_blocks.10",
    images,
    grid_size=(4, 4),
    cell_size=48,
    steps=32,
    min_density=8,
    layout="TSNE",
    seed=0,
    show_progress=False,
)
print(f"{atlas.samples.shape[0]} samples of {atlas.samples.shape[1]} channels")
print(f"{len(atlas.coords)} of 16 cells rendered")
opt.show(atlas.image, figsize=(6, 6))

# %% [markdown]
# ## What is inside
#
# The result keeps every intermediate step: `atlas.layout` is the 2D position of each
# sample, `atlas.coords` the grid cell of each rendered cell (cell `(0, 0)` is the bottom
# left), `atlas.vectors` the averaged activation vectors and `atlas.cells` the renders.

# %%
layout = atlas.layout.numpy()
plt.figure(figsize=(4, 4))
plt.scatter(layout[:, 0], layout[:, 1], s=2, alpha=0.5)
plt.title("2D layout of the activation samples")
plt.axis("off")
plt.show()

# %% [markdown]
# ## Going further
#
# - **Full quality**: many more images (`samples_per_image=` keeps a random subset of
#   positions per image), `grid_size=(20, 20)`, `cell_size=80`, `steps=256`, and
#   `layout="UMAP"` (the default, cosine metric as in the paper).
# - `examples/activation_atlas.py` is this pipeline as a script.
# - Activation samples collected over a whole dataset with optim-dataset
#   (`capture_activation_samples`, `consolidate_samples`) go in as `samples=`.
