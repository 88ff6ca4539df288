"""optim.dataset (optim-dataset): statistics of natural images that the renderer's priors use.

Colour covariance and KLT matrices (for ``opt.transforms.ToRGB``), mean magnitude spectra
(for ``opt.images.MACOImage``), activation samples (for activation atlases), dataset
exemplars (the images that excite a channel most, ``top_exemplars``) and DataLoaders
over image folders or in-memory photos. ``compute_statistic(name, loader, ...)`` runs any
registered statistic (these and third-party ones) by its registry name.

Example:
    >>> import torch
    >>> import optim as opt
    >>> loader = [torch.rand(4, 3, 32, 32)]
    >>> opt.dataset.dataset_klt_matrix(loader, normalize=True).shape
    torch.Size([3, 3])
"""

from __future__ import annotations

from optim.dataset.attribution import attribute_spatial_position
from optim.dataset.covariance import dataset_cov_matrix, image_cov
from optim.dataset.exemplars import ChannelExemplars, Exemplars, load_exemplars, top_exemplars
from optim.dataset.klt import cov_matrix_to_klt, dataset_klt_matrix
from optim.dataset.loaders import (
    ArrayImageDataset,
    ImageFileDataset,
    array_image_loader,
    image_folder_loader,
    resize_and_crop,
)
from optim.dataset.receptive_field import ReceptiveField, measure_receptive_field
from optim.dataset.samples import capture_activation_samples, consolidate_samples
from optim.dataset.spectrum import (
    dataset_magnitude_spectrum,
    load_magnitude_spectrum,
    save_magnitude_spectrum,
    spectrum_frequencies,
    spectrum_power_law_exponent,
)
from optim.dataset.statistics import available_statistics, compute_statistic

__all__ = [
    "ArrayImageDataset",
    "ChannelExemplars",
    "Exemplars",
    "ReceptiveField",
    "ImageFileDataset",
    "array_image_loader",
    "attribute_spatial_position",
    "available_statistics",
    "capture_activation_samples",
    "compute_statistic",
    "consolidate_samples",
    "cov_matrix_to_klt",
    "dataset_cov_matrix",
    "dataset_klt_matrix",
    "dataset_magnitude_spectrum",
    "image_cov",
    "image_folder_loader",
    "load_exemplars",
    "load_magnitude_spectrum",
    "measure_receptive_field",
    "resize_and_crop",
    "save_magnitude_spectrum",
    "spectrum_frequencies",
    "spectrum_power_law_exponent",
    "top_exemplars",
]
