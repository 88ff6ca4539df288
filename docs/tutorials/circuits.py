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
# # Circuits: the weights between layers
#
# Feature visualization tells what a unit responds to; **circuits** tell how it is computed
# from the units before it ("Visualizing Weights", Voss et al., Distill 2021). Between two
# adjacent convolutions the answer is the weights themselves. Between layers that are
# further apart, *expanded weights* play that role: the effective linear map from one layer
# to another, obtained from gradients once the non-linearities on the path are removed.
#
# This tutorial reads the expanded weights from block 4 to block 6 of EfficientNet-Lite0
# (real ImageNet weights, offline) and renders the units at both ends. The renders are small
# (80 px, 48 steps). **For full quality** use 224 px and 512 steps; the project overview's
# InceptionV1 example (`examples/circuits.py`, needs the InceptionV1 weights file) reads
# `mixed4a → mixed4b` the same way.

# %%
# %matplotlib inline
import warnings

import torch

import optim as opt

# %% tags=["remove-input"]
warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars only

# %% [markdown]
# ## A linear copy of the model
#
# `use_linear_modules_only=True` builds the same network with the same weights, but every
# ReLU replaced by an identity (`SkipLayer`) and max pools by average pools: a function that
# is affine between any two layers, so its gradient is the same for every input. Batch norms
# in eval mode are affine already.

# %%
torch.manual_seed(0)
linear_model = opt.models.efficientnet_lite0(pretrained=True, use_linear_modules_only=True)
linear_model = linear_model.eval()
weights = opt.circuits.extract_expanded_weights(linear_model, "_blocks.4", "_blocks.6", 7)
print("expanded weights [out channels, in channels, height, width]:", tuple(weights.shape))

# %% [markdown]
# `weights[c2, c1]` is a 7x7 kernel: how channel `c1` of `_blocks.4`, at each position around
# the centre, drives channel `c2` of `_blocks.6` at the centre. `strongest_connections`
# ranks the input channels by their net (spatially summed) weight:

# %%
out_channel = 0
top = opt.circuits.strongest_connections(weights, out_channel, k=3)
print("excites it:", top.positive.tolist(), [round(v, 2) for v in top.positive_strength.tolist()])
print("inhibits it:", top.negative.tolist(), [round(v, 2) for v in top.negative_strength.tolist()])

# %% [markdown]
# ## Units and the weights between them
#
# Render the output unit and its strongest excitatory and inhibitory inputs on the *real*
# (non-linear) model, one batch slot each, and put the two kernels between them as heatmaps
# (red positive, blue negative, scaled by the strongest weight into the output channel).

# %%
model = opt.models.efficientnet_lite0(pretrained=True).eval()
excite, inhibit = int(top.positive[0]), int(top.negative[0])
objective = (
    opt.loss.ChannelActivation("_blocks.4", excite, batch_index=0)
    + opt.loss.ChannelActivation("_blocks.6", out_channel, batch_index=1)
    + opt.loss.ChannelActivation("_blocks.4", inhibit, batch_index=2)
)
image = opt.images.NaturalImage((80, 80), batch=3)
opt.InputOptimization(model, objective, image).optimize(
    opt.optimization.n_steps(48, show_progress=False), lr=0.05
)
renders = image().detach()
heatmaps = [
    opt.circuits.connection_heatmap(weights, out_channel, channel, size=80)
    for channel in (excite, inhibit)
]
tiles = torch.cat([renders[0:1], heatmaps[0], renders[1:2], heatmaps[1], renders[2:3]])
opt.show(tiles, images_per_row=5, figsize=(15, 3))

# %% [markdown]
# Left to right: `_blocks.4` channel `excite`, its kernel into the output, `_blocks.6`
# channel 0, the kernel of `inhibit`, and `_blocks.4` channel `inhibit`.

# %% [markdown]
# ## Checking that the path is linear
#
# On the original model the path goes through ReLU6s, so its gradient depends on the input
# and "the weights between the layers" are only a local approximation. optim probes the
# path (one forward and two backward passes) and warns, naming the modules responsible:

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    opt.circuits.extract_expanded_weights(model, "_blocks.4", "_blocks.6", 7)
for warning in caught:
    print(type(warning.message).__name__, ":", str(warning.message)[:300], "...")

# %% [markdown]
# ## Going further
#
# - **Full quality**: 224 px renders and 512 steps; `crop_shape=None` keeps the whole
#   spatial extent of the weights.
# - `opt.circuits.connections_by_norm` ranks input channels by the norm of their kernel
#   (unsigned), and `probe_linearity` runs the check on its own.
# - Paths through many blocks: the further apart the layers, the larger the kernels; crop
#   them to the receptive field you care about.
