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
# # Dataset exemplars, transformers and whole-model jobs
#
# A render shows what drives a channel furthest, often far beyond anything a natural image
# does. **Dataset exemplars**, the real images that excite the channel most, show what it
# responds to in practice; together the two are much easier to read. This tutorial finds
# exemplars for channels of EfficientNet-Lite0 among crops of the sample photos of
# scikit-image and scikit-learn, renders the same channels, then runs a resumable
# **whole-model job** (what `optim model` does) and looks at the layers of a **vision
# transformer**.
#
# Small settings keep the page fast: 48 photo crops, 4 channels, 64 to 96 px renders of 32 to
# 48 steps. **For full quality** search thousands of images (a folder:
# `top_exemplars(model, layer, "photos/")`) with `k=9`, and render at 160 to 224 px with 256
# to 512 steps (`optim layer`'s `--size` and `--steps`).

# %%
# %matplotlib inline
import tempfile
import warnings
from pathlib import Path

import skimage.data
import torch
import torch.nn.functional as F
from sklearn.datasets import load_sample_images

import optim as opt
from optim.rendering import RenderSpec

# %% tags=["remove-input"]
warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars only

# %%
torch.manual_seed(0)
model = opt.models.efficientnet_lite0(pretrained=True).eval()

photos = [getattr(skimage.data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")]
photos += list(load_sample_images().images)
generator = torch.Generator().manual_seed(0)
crops = []
for photo in photos:
    image = torch.from_numpy(photo.copy()).permute(2, 0, 1).float() / 255
    height, width = image.shape[-2:]
    shortest = min(height, width)
    for _ in range(6):  # random square crops of a third of the photo or more
        side = int(torch.randint(shortest // 3, shortest + 1, (1,), generator=generator))
        top = int(torch.randint(0, height - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - side + 1, (1,), generator=generator))
        crop = image[None, :, top : top + side, left : left + side]
        crops.append(F.interpolate(crop, size=(160, 160), mode="area"))
images = torch.cat(crops)
print("images to search:", tuple(images.shape))

# %% [markdown]
# ## Exemplars
#
# `opt.dataset.top_exemplars` streams the images through the model once and keeps, per
# channel, the `k` images whose maximum activation is highest, with a crop of the unit's
# receptive field (measured from the model: 67 px for `_blocks.4`) around that maximum.

# %%
layer, channels = "_blocks.4", [0, 1, 2, 3]
found = opt.dataset.top_exemplars(
    model, layer, images, channels=channels, k=4, size=160, show_progress=False
)
print(f"receptive field of {layer}: {found.field}")
for channel in channels:
    print(channel, "activations:", [round(value, 2) for value in found[channel].activations])

# %% [markdown]
# ## Renders beside their exemplars
#
# Each row: the render of a channel, then its four exemplar crops, best first. The ratio of
# the channel's peak activation on the render to its peak on the best exemplar says how far
# beyond natural images the render goes (`optim layer --exemplars` shows it in the gallery).

# %%
layer_render = opt.render_layer(
    model, layer, channels=channels, size=96, steps=48, seed=0, show_progress=False
)
with torch.no_grad():
    render_activations = opt.collect_activations(model, layer, layer_render.images)[layer]
rows = []
for i, channel in enumerate(channels):
    peak = float(render_activations[i, channel].max())  # the render's best position
    ratio = peak / max(found[channel].activations[0], 1e-6)
    print(f"channel {channel}: peak on the render / on the best exemplar = {ratio:.1f}")
    render = F.interpolate(layer_render.images[i : i + 1], size=(67, 67), mode="area")
    rows += [render, found[channel].images]
opt.show(opt.make_grid_image(torch.cat(rows), images_per_row=5, padding=2), figsize=(8, 7))

# %% [markdown]
# ## A whole-model job, resumable
#
# `opt.rendering.render_model` (the `optim model` command) renders several layers, each into
# its own gallery (per-channel PNGs and JSON manifests, a grid and an `index.html`), plus a
# page linking them. Each batch is written as soon as it finishes, so running the same job
# again renders only what is missing or was rendered with other settings.

# %%
site = Path(tempfile.mkdtemp()) / "lite0"
spec = RenderSpec(target="_blocks.2", channels=(0, 1, 2, 3), size=(64, 64), steps=32, seed=0)
layers = ["_blocks.2", "_blocks.4"]
first = opt.rendering.render_model(model, layers, site, spec, show_progress=False)
again = opt.rendering.render_model(model, layers, site, spec, show_progress=False)
for done, redone in zip(first.layers, again.layers):
    print(f"{done.layer}: rendered {done.rendered} first, {redone.rendered} on the re-run")
print("site:", sorted(path.name for path in site.iterdir()))
print("_blocks.4:", sorted(path.name for path in (site / "_blocks.4").iterdir()))
grids = [opt.ImageTensor.load(site / name / "grid.png") for name in layers]
opt.show(torch.stack(grids), images_per_row=2, figsize=(8, 4))

# %% [markdown]
# Under `torchrun` the same call (or `torchrun -m optim.cli model ...`) spreads the batches
# over processes, GPUs and nodes; every channel starts from its own seeded noise, so the
# images do not depend on how the work was split.
#
# ## Vision transformers
#
# Every torchvision classifier is available as `torchvision/<name>` (and every timm model as
# `timm/<name>` with `optim-models[timm]`); pretrained weights come only from local caches,
# and random weights work offline. A transformer block outputs one vector per token; optim
# reads the patch tokens as a grid, so `LAYER:CHANNEL` targets a feature averaged over the
# patches, `LAYER:CHANNEL:X:Y` one patch, and `token="class"` the class token.

# %%
vit = opt.models.get_model("torchvision/vit_b_16", pretrained=False).eval()
vit_shapes = opt.model_utils.get_model_layers(vit, input_size=(224, 224))
for name in ["conv_proj", "encoder.layers.encoder_layer_8", "heads.head"]:
    print(f"{name:32s} {vit_shapes[name]}")

# %% [markdown]
# `opt.render(vit, "encoder.layers.encoder_layer_8:5", token="class")` renders a feature of
# the class token (at 224 px, the only size this ViT takes), and `optim render --model
# torchvision/vit_b_16 --random-weights --target encoder.layers.encoder_layer_8:5 --token
# class` is the same from the command line. With random weights the images mean nothing:
# place torchvision's weights file in the torch hub cache for real ones.
#
# ## Going further
#
# - **Full quality**: exemplars over thousands of images with `k=9`; renders at 160 to
#   224 px with 256 to 512 steps; `optim model efficientnet_lite0 --all --channels all`
#   for every block and channel.
# - `found.save("blocks4.pt")` keeps the exemplars; `optim layer _blocks.4 --exemplars
#   blocks4.pt` puts them beside the renders in the HTML gallery.
# - In Python, any objective reads token layers through
#   `opt.loss.LayoutView(objective, "tokens", token="class")`.
