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
# # Objectives, diversity and neuron groups
#
# An objective says what the image should do to the network. optim's objectives map the
# activations of their target layers to a value per image, and they combine with ordinary
# arithmetic, so a new objective is often one line. This tutorial combines objectives,
# renders a *diverse* batch for one channel, and factorises a layer's activations on a photo
# into **neuron groups** ("The Building Blocks of Interpretability", Olah et al. 2018).
#
# Small settings keep the page fast: 80 to 96 px and 48 steps. **For full quality** use
# 224 px and 512 steps for the renders, and 224 px photos (`examples/neuron_groups.py` has
# the full-size version).

# %%
# %matplotlib inline
import warnings

import skimage.data
import torch
import torch.nn.functional as F

import optim as opt

# %% tags=["remove-input"]
warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars only

# %%
torch.manual_seed(0)
model = opt.models.efficientnet_lite0(pretrained=True).eval()
transforms = opt.transforms.TransformationRobustness()


def render(objective, batch=1, size=96, steps=48, lr=0.05):
    """Optimise a NaturalImage for `objective`; returns the images, [batch, 3, size, size]."""
    image = opt.images.NaturalImage((size, size), batch=batch)
    opt.InputOptimization(model, objective, image, transforms).optimize(
        opt.optimization.n_steps(steps, show_progress=False), lr=lr
    )
    return image().detach()


# %% [markdown]
# ## Objectives are composable
#
# `ChannelActivation(layer, c)` is the mean activation of channel `c`; `NeuronActivation`
# takes one position of it; `DeepDream` the squared activations of the whole layer. Objectives
# add, subtract and scale: the sum of two channels renders what excites both, one channel
# *minus* another what excites the first but not the second.

# %%
layer = "_blocks.10"
one = opt.loss.ChannelActivation(layer, 2)
other = opt.loss.ChannelActivation(layer, 9)
neuron = opt.loss.NeuronActivation(layer, 2, x=3, y=3)  # column 3, row 3 of the 6x6 grid
images = [render(objective) for objective in (one, other, one + other, one - other, neuron)]
opt.show(torch.cat(images), images_per_row=5, figsize=(15, 3))

# %% [markdown]
# From left to right: channel 2; channel 9; both; channel 2 but not 9; the single neuron
# of channel 2 at (3, 3), which only needs the part of the image inside its receptive field.

# %% [markdown]
# ## Diversity: several answers for one channel
#
# A channel often responds to several different things. Rendering a batch with the same
# objective gives nearly the same image four times; adding `Diversity` (minus the similarity
# of the images' Gram matrices at a layer) pushes the batch apart.

# %%
batch = 4
diverse = opt.loss.ChannelActivation(layer, 2) + 20 * opt.loss.Diversity("_blocks.6")
opt.show(render(diverse, batch=batch, size=80), images_per_row=batch, figsize=(12, 3))

# %% [markdown]
# ## Neuron groups: factorising a layer on a photo
#
# The activations of a layer at every position of a photo are vectors with one entry per
# channel. Non-negative matrix factorisation (`ChannelReducer(k, "NMF")`, from
# optim-reducer) splits them into `k` groups: each group has a spatial map (where it fires on
# the photo) and a channel direction (what it is). Rendering each direction with the
# `Direction` objective shows what the group stands for.

# %%
size = 160
photo = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1).float() / 255
side = min(photo.shape[-2:])
photo = F.interpolate(photo[None, :, :side, :side], size=(size, size), mode="area")

group_layer = "_blocks.10._expand_relu"  # after a ReLU: non-negative, as NMF needs
with torch.no_grad():
    activations = opt.collect_activations(model, group_layer, photo)[group_layer]
reducer = opt.reducer.ChannelReducer(4, "NMF", init="nndsvda", max_iter=500, random_state=0)
spatial = reducer.fit_transform(activations)[0]  # [4, h, w]: where each group fires
directions = reducer.components  # [4, channels]: what each group is
print("activations", tuple(activations.shape), "-> groups", tuple(spatial.shape))

# %%
group_objective = opt.loss.sum_loss_list(
    [opt.loss.Direction(group_layer, vec, batch_index=i) for i, vec in enumerate(directions)]
)
renders = render(group_objective, batch=len(directions), size=80)
maps = F.interpolate(spatial[:, None] / spatial.amax(), size=(80, 80), mode="nearest")
photo_small = F.interpolate(photo, size=(80, 80), mode="area")
tiles = torch.cat([photo_small, maps.expand(-1, 3, -1, -1), renders])
opt.show(opt.make_grid_image(tiles, images_per_row=5, padding=2), figsize=(12, 5))

# %% [markdown]
# Top row: the photo, then each group's spatial map (white where the group fires). Bottom
# row: the render of each group's direction.
#
# ## Going further
#
# - **Full quality**: `size=224, steps=512` for the renders, and the photo at 224 px; try
#   6 to 8 groups.
# - Signed layers (before a ReLU) need `opt.reducer.posneg(activations, dim=1)` first:
#   NMF takes non-negative input only.
# - Every objective in `opt.loss` is listed in the [API reference](../../api/loss/);
#   a new one is a `BaseLoss` subclass (see the
#   [plugin author's guide](../../plugins/)).
