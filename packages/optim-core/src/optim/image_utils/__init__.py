"""Image utilities: display, saving, grids, heatmaps and colour mapping.

Example:
    >>> import torch
    >>> from optim.image_utils import make_grid_image
    >>> make_grid_image(torch.rand(2, 3, 4, 4)).shape
    torch.Size([1, 3, 8, 14])
"""

from __future__ import annotations

from optim.image_utils.colors import hue_to_rgb, nchannels_to_rgb
from optim.image_utils.display import show
from optim.image_utils.grid import make_grid_image
from optim.image_utils.heatmap import weights_to_heatmap_2d
from optim.image_utils.neuron_pos import get_neuron_pos
from optim.image_utils.saving import save_tensor_as_image

__all__ = [
    "get_neuron_pos",
    "hue_to_rgb",
    "make_grid_image",
    "nchannels_to_rgb",
    "save_tensor_as_image",
    "show",
    "weights_to_heatmap_2d",
]
