"""Image tensors and image parameterizations.

Example:
    >>> from optim import images
    >>> images.NaturalImage((16, 16))().shape
    torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

# show and save_tensor_as_image live in optim.image_utils (top level: opt.show,
# opt.save_tensor_as_image). These two aliases stay only because an existing test checks
# `opt.images.show is opt.show`; they are not part of this module's __all__.
from optim.image_utils.display import show as show
from optim.image_utils.saving import save_tensor_as_image as save_tensor_as_image
from optim.images.cppn_image import CPPNImage
from optim.images.fft_image import FFTImage
from optim.images.image_tensor import ImageTensor
from optim.images.laplacian_image import LaplacianImage
from optim.images.maco_image import MACOImage
from optim.images.natural_image import NaturalImage
from optim.images.parameterization import ImageParameterization, InputParameterization
from optim.images.pixel_image import PixelImage
from optim.images.shared_image import SharedImage
from optim.images.simple_tensor import SimpleTensorParameterization
from optim.images.stack_image import StackImage

__all__ = [
    "CPPNImage",
    "FFTImage",
    "ImageParameterization",
    "ImageTensor",
    "InputParameterization",
    "LaplacianImage",
    "MACOImage",
    "NaturalImage",
    "PixelImage",
    "SharedImage",
    "SimpleTensorParameterization",
    "StackImage",
]
