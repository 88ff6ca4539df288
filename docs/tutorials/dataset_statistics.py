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
# # Dataset statistics, MACO and feature accentuation
#
# Renders look natural when the image parameterization knows what natural images look like.
# Two statistics do most of the work: the **colour covariance** of the pixels (its KLT matrix
# decorrelates the colours an image is optimised in) and the **magnitude spectrum** (natural
# images have amplitudes falling as about 1/f). optim-dataset computes both from any images.
# **MACO** (Fel et al. 2023) then optimises only the phase of an image whose Fourier
# magnitude is fixed to the spectrum, and **feature accentuation** (Hamblin et al. 2024)
# amplifies a feature *inside a real photo* while keeping it close to the photo.
#
# The statistics here come from the six sample photos of scikit-image and scikit-learn at
# 128 px, and the renders use 96 to 128 px and 48 to 64 steps. **For full quality** compute the
# statistics over thousands of photos of your domain at 224 px
# (`opt.dataset.image_folder_loader("photos/", size=224)`), and render at 224 px with 512
# steps (accentuation: 128 to 256 steps).

# %%
# %matplotlib inline
import warnings

import matplotlib.pyplot as plt
import skimage.data
import torch
from sklearn.datasets import load_sample_images

import optim as opt

# %% tags=["remove-input"]
warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars only

# %%
torch.manual_seed(0)
model = opt.models.efficientnet_lite0(pretrained=True).eval()
photos = [getattr(skimage.data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")]
photos += list(load_sample_images().images)
loader = opt.dataset.array_image_loader(photos, size=128, batch_size=6)  # resize + centre crop

# %% [markdown]
# ## Colour statistics
#
# `dataset_klt_matrix` averages the per-image colour covariances and returns the 3x3 matrix
# `U diag(sqrt(S))` of their eigendecomposition: its first column is close to luminance
# (all three channels together), the others are colour-opponent axes. With `normalize=True`
# it is scaled like `ToRGB`'s built-in ImageNet matrix and plugs into
# `opt.transforms.ToRGB(transform=...)`.

# %%
klt = opt.dataset.dataset_klt_matrix(loader, normalize=True)
print("KLT of the photos:\n", klt.numpy().round(3))
print("ToRGB's ImageNet KLT:\n", opt.transforms.ToRGB(transform="klt").transform.numpy().round(3))

# %% [markdown]
# ## The magnitude spectrum
#
# `dataset_magnitude_spectrum` is the mean Fourier amplitude of the images in the
# decorrelated colour space, `[3, H, W // 2 + 1]`. It falls off with the frequency as a power
# law: a straight line on log-log axes, whose slope `spectrum_power_law_exponent` fits
# (`amplitude ~ 1 / f^alpha`; natural photos give alpha close to 1).

# %%
spectrum = opt.dataset.dataset_magnitude_spectrum(loader, size=128)
alpha = opt.dataset.spectrum_power_law_exponent(spectrum)
frequencies = opt.dataset.spectrum_frequencies(128)
inside = (frequencies > 0) & (frequencies <= 0.5)  # without the DC bin and the corners
amplitude = spectrum.mean(dim=0)[inside]
plt.figure(figsize=(5, 3.5))
plt.loglog(frequencies[inside], amplitude, ".", markersize=2, alpha=0.3, label="bins")
reference = amplitude.median() * (frequencies[inside] / frequencies[inside].median()) ** -alpha
plt.loglog(frequencies[inside], reference, "-", label=f"1 / f^{alpha:.2f}")
plt.xlabel("frequency (cycles per pixel)")
plt.ylabel("mean amplitude")
plt.legend()
plt.show()

# %% [markdown]
# ## MACO: render with the photos' spectrum
#
# `MACOImage` keeps that magnitude fixed and optimises the phase only, so every step's image
# has the photos' spectrum exactly. Inside `NaturalImage` it is recorrelated with the KLT
# matrix computed above and squashed to [0, 1]. Below: channel 2 of `_blocks.10` rendered
# with the default Fourier parameterization and with MACO.

# %%
objective = opt.loss.ChannelActivation("_blocks.10", 2)
transforms = opt.transforms.TransformationRobustness()
renders = []
for parameterization in (opt.images.FFTImage, opt.images.MACOImage(128, spectrum=spectrum)):
    image = opt.images.NaturalImage(
        (128, 128),
        parameterization=parameterization,
        decorrelation_module=opt.transforms.ToRGB(transform=klt),
    )
    opt.InputOptimization(model, objective, image, transforms).optimize(
        opt.optimization.n_steps(64, show_progress=False), lr=0.05
    )
    renders.append(image().detach())
opt.show(torch.cat(renders), images_per_row=2, figsize=(8, 4))

# %% [markdown]
# ## Feature accentuation: amplify a feature in a real photo
#
# `opt.accentuate` starts from a photo and optimises it to excite a channel, while a penalty
# keeps the activations of an earlier layer close to the photo's: the photo changes only where
# and as much as the feature needs. The history records the target activation and the distance
# to the photo at every step.

# %%
seed_photo = next(iter(opt.dataset.array_image_loader([skimage.data.chelsea()], size=128)))
layer, channel = "_blocks.5._expand_relu", 11
accentuated, history = opt.accentuate(
    model,
    layer,
    seed_photo,
    channel,
    regularization_layer="_blocks.2",
    steps=48,
    seed=0,
    show_progress=False,
)
print(
    f"channel {channel} of {layer}: {history['target'][0]:.3f} -> {history['target'][-1]:.3f}, "
    f"distance to the photo {history['distance'][-1]:.3f}"
)
opt.show(torch.cat([seed_photo, accentuated.detach()]), images_per_row=2, figsize=(8, 4))

# %% [markdown]
# Left: the photo. Right: the same photo with channel 11 of `_blocks.5._expand_relu`
# accentuated.
#
# ## Going further
#
# - **Full quality**: statistics over thousands of photos at 224 px; renders at 224 px with
#   512 steps; accentuation with 128 to 256 steps and `regularization_weight` between 1
#   and 10 (lower lets the image move further from the photo).
# - `opt.dataset.save_magnitude_spectrum(spectrum, "spectrum.pt")` keeps a spectrum;
#   `MACOImage(224, spectrum="spectrum.pt")` loads it. `MACOImage(...,
#   accumulate_transparency=True)` records MACO's transparency (attribution) map.
# - `optim render --parameterization maco` renders with MACO (1/f prior) from the command
#   line.
