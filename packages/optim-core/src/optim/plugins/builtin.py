"""optim-core's own plugin: it registers the built-ins through the same hooks as everyone.

Targets are ``"module:attr"`` strings so that listing names never imports torch-heavy code.
"""

from __future__ import annotations

from optim.plugins.hookspecs import PLUGIN_API_VERSION, Registrar, hookimpl

OPTIM_PLUGIN_API = PLUGIN_API_VERSION  # core's own plugin is always current

PARAMETERIZATIONS = {
    "natural_image": ("optim.images:NaturalImage", "Parameterization -> ToRGB -> squash"),
    "fft_image": ("optim.images:FFTImage", "Spectral (Fourier) parameterization"),
    "pixel_image": ("optim.images:PixelImage", "Plain pixel parameterization"),
    "laplacian_image": ("optim.images:LaplacianImage", "Laplacian-pyramid parameterization"),
    "simple_tensor": ("optim.images:SimpleTensorParameterization", "Wraps a fixed tensor"),
    "shared_image": ("optim.images:SharedImage", "Adds low-resolution shared tensors"),
    "stack_image": ("optim.images:StackImage", "Concatenates several parameterizations"),
    "maco_image": ("optim.images:MACOImage", "Fixed Fourier magnitude, optimised phase (MACO)"),
    "maco": ("optim.images:MACOImage", "Alias of maco_image"),
    "cppn": ("optim.images:CPPNImage", "Coordinates -> colour network, redrawable at any size"),
}

TRANSFORMS = {
    "to_rgb": ("optim.transforms:ToRGB", "Colour recorrelation (KLT / i1i2i3 / custom 3x3)"),
    "blend_alpha": ("optim.transforms:BlendAlpha", "RGBA -> RGB over a background"),
    "ignore_alpha": ("optim.transforms:IgnoreAlpha", "Drops the alpha channel"),
    "center_crop": ("optim.transforms:CenterCrop", "Centre crop (pads when larger)"),
    "random_scale": ("optim.transforms:RandomScale", "Random resize (output size changes)"),
    "random_scale_affine": ("optim.transforms:RandomScaleAffine", "Random affine zoom"),
    "random_spatial_jitter": ("optim.transforms:RandomSpatialJitter", "Random translation"),
    "random_rotation": ("optim.transforms:RandomRotation", "Random rotation"),
    "scale_input_range": ("optim.transforms:ScaleInputRange", "Multiplies the input"),
    "rgb_to_bgr": ("optim.transforms:RGBToBGR", "Swaps red and blue"),
    "gaussian_smoothing": ("optim.transforms:GaussianSmoothing", "Depthwise Gaussian blur"),
    "nchannels_to_rgb": ("optim.transforms:NChannelsToRGB", "Any channel count -> RGB"),
    "random_crop": ("optim.transforms:RandomCrop", "Random wrap-around crop"),
    "transformation_robustness": (
        "optim.transforms:TransformationRobustness",
        "Lucid-style pad/jitter/scale/rotate/jitter stack",
    ),
    "fused_transformation_robustness": (
        "optim.transforms:FusedTransformationRobustness",
        "The same stack as one affine warp: fixed size, CUDA-graph safe",
    ),
}

OBJECTIVES = {
    "layer_activation": ("optim.loss:LayerActivation", "Whole-layer activation"),
    "channel_activation": ("optim.loss:ChannelActivation", "One channel's activation"),
    "neuron_activation": ("optim.loss:NeuronActivation", "One unit at one position"),
    "deep_dream": ("optim.loss:DeepDream", "Squared activations (DeepDream)"),
    "total_variation": ("optim.loss:TotalVariation", "Total variation"),
    "l1": ("optim.loss:L1", "L1 distance to a constant"),
    "l2": ("optim.loss:L2", "L2 distance to a constant"),
    "diversity": ("optim.loss:Diversity", "Batch diversity (Gram dissimilarity)"),
    "activation_interpolation": (
        "optim.loss:ActivationInterpolation",
        "Interpolates between two channels over the batch",
    ),
    "alignment": ("optim.loss:Alignment", "Keeps neighbouring batch items similar"),
    "direction": ("optim.loss:Direction", "Dot/cosine with a channel direction"),
    "neuron_direction": ("optim.loss:NeuronDirection", "Direction at one position"),
    "angled_neuron_direction": (
        "optim.loss:AngledNeuronDirection",
        "Activation-atlas direction objective",
    ),
    "tensor_direction": ("optim.loss:TensorDirection", "Dot/cosine with a spatial tensor"),
    "activation_weights": ("optim.loss:ActivationWeights", "Activations weighted per channel"),
    "l2_mean": ("optim.loss:L2Mean", "Mean squared distance to a constant"),
    "vector_loss": ("optim.loss:VectorLoss", "CLIP vector objective"),
    "facet_loss": ("optim.loss:FacetLoss", "CLIP faceted feature visualization"),
}


def _register_all(register: Registrar, table: dict[str, tuple[str, str]]) -> None:
    for name, (target, description) in table.items():
        register(name, target, description=description)


@hookimpl
def register_parameterizations(register: Registrar) -> None:
    _register_all(register, PARAMETERIZATIONS)


@hookimpl
def register_transforms(register: Registrar) -> None:
    _register_all(register, TRANSFORMS)


@hookimpl
def register_objectives(register: Registrar) -> None:
    _register_all(register, OBJECTIVES)
