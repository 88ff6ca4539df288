"""assert_step_capturable: will this render's step replay as a CUDA graph? Checked without a GPU.

A CUDA graph records the kernels of one step and replays them. Anything in the step that
reads a value back to the host (``.item()``, ``bool(tensor)``, data-dependent shapes such as
boolean masks) or copies host data to the device (``torch.tensor(...)`` in a forward, a CPU
vector moved with ``.to(device)``) breaks the capture, and in eager mode makes every step
wait for the GPU. The check runs one real step of the CUDA-graph fast path on the ``meta``
device (shapes only, so even a large model costs almost nothing) and watches the captured
part for such operations. Third-party objectives, transforms and models can use it in their
tests.

Example:
    >>> import torch.nn as nn
    >>> import optim as opt
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    >>> assert_step_capturable(model, opt.loss.ChannelActivation("1", 0),
    ...                        opt.images.NaturalImage((32, 32)),
    ...                        opt.transforms.TransformationRobustness())
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, overload

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from optim.hooks.activations import model_device
from optim.loss.base import Loss
from optim.loss.summing import default_loss_summarize
from optim.optimization.fast_path import ResolvedFastPath
from optim.optimization.graphed_step import simulated_capture
from optim.optimization.step_runner import FastRunner

__all__ = ["HostSyncError", "assert_step_capturable"]

_META = torch.device("meta")

# Operations that wait for the device (their result decides a shape or a Python value).
_SYNCING = {
    "aten._local_scalar_dense.default": "reads a value back to Python (.item(), bool(), int())",
    "aten.nonzero.default": "has a data-dependent shape (nonzero)",
    "aten.masked_select.default": "has a data-dependent shape (masked_select)",
    "aten._unique2.default": "has a data-dependent shape (unique)",
    "aten.unique_dim.default": "has a data-dependent shape (unique)",
    "aten.unique_consecutive.default": "has a data-dependent shape (unique_consecutive)",
    "aten.repeat_interleave.Tensor": "has a data-dependent shape (repeat_interleave)",
    "aten.lift_fresh.default": "builds a tensor from host data (torch.tensor, as_tensor, "
    "indexing with a Python list); make it a buffer or build it once",
}
_INDEXING = {"aten.index.Tensor", "aten.index_put_.default"}
_COPIES = {"aten._to_copy.default", "aten.copy_.default", "aten._copy_from.default"}
_TORCH_DIR = str(Path(torch.__file__).parent)
_THIS_FILE = str(Path(__file__))


class HostSyncError(RuntimeError):
    """An operation in the captured step would synchronise with the host."""


class _HostSyncWatcher(TorchDispatchMode):
    """Raises :class:`HostSyncError` at the first operation that a capture cannot record."""

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        name = str(func)
        why = _SYNCING.get(name)
        if name in _INDEXING and any(_is_mask(index) for index in args[1]):
            why = "indexes with a boolean mask (a data-dependent shape)"
        result = func(*args, **kwargs) if why is None else None
        if why is None and name in _COPIES and _crosses_devices(args, result):
            why = "copies a host tensor to the device; make it a buffer or copy it once"
        if why is not None:
            raise HostSyncError(f"{name} {why}, at {_caller()}")
        return result


def _is_mask(index: object) -> bool:
    return isinstance(index, torch.Tensor) and index.dtype in (torch.bool, torch.uint8)


def _crosses_devices(args: Sequence[Any], result: object) -> bool:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if isinstance(result, torch.Tensor):
        tensors.append(result)
    return len({t.device.type for t in tensors}) > 1


def _caller() -> str:
    """The innermost frames outside torch and this file: where the operation came from."""
    frames = [
        f"{frame.filename}:{frame.lineno} ({frame.function})"
        for frame in inspect.stack(0)[2:]
        if not frame.filename.startswith(_TORCH_DIR) and frame.filename != _THIS_FILE
    ]
    return " <- ".join(frames[:3]) or "<unknown>"


class _WatchingGraph:
    """A :class:`~optim.optimization.graphed_step.StepGraph` that runs the body once under the
    watcher instead of recording it (replays do nothing)."""

    def __init__(self, generators: Sequence[torch.Generator] = ()) -> None:
        self.generators = generators

    def capture(self, body: Callable[[], torch.Tensor]) -> torch.Tensor:
        with simulated_capture(), _HostSyncWatcher():
            return body()

    def replay(self) -> None:
        pass

    def side_stream(self) -> AbstractContextManager[object]:
        return nullcontext()


class _DeviceSGD(torch.optim.Optimizer):
    """SGD with no host reads; stands in for torch's capturable Adam (CUDA only)."""

    def __init__(self, params: Any, lr: float = 0.01) -> None:
        super().__init__(params, {"lr": lr, "capturable": True})

    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        if closure is not None:
            raise ValueError("_DeviceSGD takes no closure: a captured step re-evaluates nothing.")
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.add_(param.grad, alpha=-group["lr"])
        return None


@contextmanager
def _tensors_replaced(
    modules: Sequence[nn.Module], convert: Callable[[torch.Tensor], torch.Tensor]
) -> Iterator[None]:
    """Swap each parameter and buffer of ``modules`` for ``convert(tensor)``; the originals
    are put back on exit. Objects keep their identity, so objectives (and closures in
    composite objectives) still find their target modules."""
    replaced: dict[int, torch.Tensor] = {}
    saved: list[tuple[dict[str, Any], str, torch.Tensor]] = []
    seen: set[int] = set()
    try:
        for module in itertools.chain.from_iterable(root.modules() for root in modules):
            if id(module) in seen:
                continue
            seen.add(id(module))
            # Parameters and buffers (a parameter goes back in as a Parameter).
            stores: tuple[dict[str, Any], ...] = (module._parameters, module._buffers)
            for store in stores:
                for name, tensor in store.items():
                    if tensor is None:
                        continue
                    if id(tensor) not in replaced:  # tied weights stay tied
                        new = convert(tensor.detach())
                        if isinstance(tensor, nn.Parameter):
                            new = nn.Parameter(new, requires_grad=tensor.requires_grad)
                        replaced[id(tensor)] = new
                    saved.append((store, name, tensor))
                    store[name] = replaced[id(tensor)]
        yield
    finally:
        for store, name, tensor in reversed(saved):
            store[name] = tensor


def assert_step_capturable(
    model: nn.Module,
    loss_function: Loss | Callable[..., torch.Tensor],
    input_param: nn.Module | None = None,
    transform: nn.Module | None = None,
    *,
    channels_last: bool = True,
    fuse_transforms: bool = True,
    loss_summarize_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """Raise if the render's step cannot be replayed as a CUDA graph; checked on any machine.

    Runs two steps of :meth:`InputOptimization.optimize` with the CUDA-graph branch of its
    step runner (:class:`~optim.optimization.step_runner.FastRunner`: fused
    transforms, ``channels_last``, frozen model; one warm-up step, then the watched one),
    once on the model's device and once on the ``meta`` device. The given objects are used
    themselves, with their parameters and buffers swapped for clones (or meta tensors) and
    put back afterwards, and the random state is restored: nothing given is changed. Code
    that runs only on CUDA devices is not reached, and the optimizer (torch's capturable
    Adam) is not part of the check.

    Args:
        model: the model, as for :class:`~optim.optimization.InputOptimization`.
        loss_function: the objective, as for ``InputOptimization``.
        input_param: the image module, as for ``InputOptimization`` (``None``: the same
            default).
        transform: the transforms, as for ``InputOptimization`` (``None``: the same default).
        channels_last: check with the model in channels-last format, as the fast path runs it.
        fuse_transforms: replace ``TransformationRobustness`` by its fused version first,
            as the fast path does.
        loss_summarize_fn: the summary to check (default ``-mean``).

    Raises:
        ValueError: a module draws its randomness on the host, or is a third-party module
            not marked ``graph_safe = True`` (names it and says which).
        RuntimeError: an operation in the step would synchronise with the host; its cause
            is a :class:`HostSyncError` naming the operation and the code that ran it.

    Example:
        >>> import torch, torch.nn as nn
        >>> import optim as opt
        >>> class ItemLoss(opt.loss.BaseLoss):
        ...     def __call__(self, values):
        ...         activation = self.activation(values)
        ...         return activation * float(activation.detach().max())  # reads back
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
        >>> try:
        ...     assert_step_capturable(model, ItemLoss("0"), opt.images.PixelImage((16, 16)),
        ...                            opt.transforms.TransformationRobustness())
        ... except RuntimeError as error:
        ...     print(type(error.__cause__).__name__)
        HostSyncError
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    device = model_device(model) or torch.device("cpu")
    fast = ResolvedFastPath(
        device=device,
        channels_last=channels_last,
        autocast_dtype=None,
        cuda_graph=True,
        cuda_graph_explicit=True,  # failures raise instead of falling back
        fuse_transforms=fuse_transforms,
        freeze_model=True,
        fold_batchnorm=False,  # done before the step, outside what is captured
        check_finite_every=1 << 30,
        warmup_steps=1,
    )
    summarize = loss_summarize_fn or default_loss_summarize
    arguments = (model, loss_function, input_param, transform)
    modules = [m for m in (model, input_param, transform) if isinstance(m, nn.Module)]
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        # On the model's own device, tensors built from host data show up (on meta they are
        # built there directly); on meta, host tensors copied to the device do. The image and
        # transform are optimised on clones; the model's weights are only read.
        with _tensors_replaced(modules[1:], torch.clone):
            _run_two_steps(arguments, fast, summarize)
        with _tensors_replaced(modules, lambda tensor: tensor.to(_META)):
            _run_two_steps(arguments, replace(fast, device=_META), summarize)


def _run_two_steps(
    arguments: tuple[nn.Module, Any, nn.Module | None, nn.Module | None],
    fast: ResolvedFastPath,
    summarize: Callable[[torch.Tensor], torch.Tensor],
) -> None:
    """One warm-up step, then one step captured by :class:`_WatchingGraph`."""
    from optim.optimization.input_optimization import InputOptimization

    run = InputOptimization(*arguments)
    run._optimize(
        lambda step, *_: step < 2,
        _DeviceSGD(run.parameters()),
        summarize,
        0.01,
        fast,
        FastRunner(fast, graph_factory=_WatchingGraph),
    )
