"""GraphedStep: a few eager optimisation steps, then one captured as a CUDA graph and replayed.

A replay launches every kernel of the step (image, transforms, forward to the last target,
objective, backward, optimizer update) with one call and no Python in between, which is
what a step costs on a GPU once the model itself is fast. The pattern follows PyTorch's
"whole network capture": warm-up steps on a side stream (they are real steps), gradients
set to ``None`` before capture so that backward writes them into the graph's memory, and a
``capturable`` optimizer whose state lives on the device.

Example:
    A stand-in graph that runs on the CPU shows the sequence (a :class:`CudaGraph` needs CUDA):
    two eager warm-up steps, then a capture (which runs nothing) and one replay per call.

    >>> from contextlib import nullcontext
    >>> class RerunGraph:  # a "replay" runs the step's Python again
    ...     def capture(self, body):
    ...         self.body, self.out, self.captured_now = body, body(), True
    ...         return self.out
    ...     def replay(self):  # the first replay is the step the capture ran
    ...         if not self.captured_now:
    ...             self.out.copy_(self.body())
    ...         self.captured_now = False
    ...     def side_stream(self):
    ...         return nullcontext()
    >>> x = torch.zeros(1, requires_grad=True)
    >>> sgd = torch.optim.SGD([x], lr=0.25)
    >>> def one_step():  # minimise (x - 2)^2; x goes 0, 1, 1.5, 1.75, ...
    ...     sgd.zero_grad(set_to_none=True)
    ...     loss = ((x - 2) ** 2).sum()
    ...     loss.backward()
    ...     sgd.step()
    ...     return loss.detach()
    >>> step = GraphedStep(one_step, one_step, sgd.zero_grad, warmup=2, graph_factory=RerunGraph)
    >>> [step().item() for _ in range(4)]
    [4.0, 1.0, 0.25, 0.0625]
    >>> step.captured, step.replayed
    (True, 2)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import TracebackType
from typing import Protocol

import torch
from torch import nn

from optim.checks import check_int

__all__ = [
    "CudaGraph",
    "GraphedStep",
    "StepGraph",
    "capturing_step",
    "device_generators",
    "simulated_capture",
]

logger = logging.getLogger(__name__)
_simulated = threading.local()


def capturing_step() -> bool:
    """Whether a render's step is being captured right now (as a CUDA graph, or by
    :func:`~optim.optimization.assert_step_capturable`).

    Code in the step must then not read values back to the host; use this to skip
    host-side checks that are fine in eager steps.

    Example:
        >>> capturing_step()
        False
    """
    if getattr(_simulated, "depth", 0) > 0:
        return True
    return torch.cuda.is_initialized() and torch.cuda.is_current_stream_capturing()


@contextmanager
def simulated_capture() -> Iterator[None]:
    """Make :func:`capturing_step` true in this thread, for checks that imitate a capture.

    Example:
        >>> with simulated_capture():
        ...     capturing_step()
        True
    """
    _simulated.depth = getattr(_simulated, "depth", 0) + 1
    try:
        yield
    finally:
        _simulated.depth -= 1


class StepGraph(Protocol):
    """What :class:`GraphedStep` needs from a graph (a protocol, so tests can fake it)."""

    def capture(self, body: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Record ``body`` without running it; return its (static) output tensor."""

    def replay(self) -> None:
        """Run the recorded kernels once; the static output then holds the new value."""

    def side_stream(self) -> AbstractContextManager[object]:
        """A context in which the eager warm-up steps run."""


def device_generators(device: torch.device, *modules: nn.Module) -> list[torch.Generator]:
    """The random generators on ``device`` that ``modules`` (or their submodules) hold as
    ``.generator``; a CUDA graph must register them to draw fresh numbers on each replay.

    Example:
        >>> from optim.transforms import FusedTransformationRobustness
        >>> generator = torch.Generator()
        >>> fused = FusedTransformationRobustness(generator=generator)
        >>> device_generators(torch.device("cpu"), fused) == [generator]
        True
    """
    from optim.plugins.contracts import check_generator

    found: dict[int, torch.Generator] = {}
    for root in modules:
        for module in root.modules():
            generator = check_generator(module)  # anything but a torch.Generator is refused
            if generator is not None and generator.device.type == device.type:
                found.setdefault(id(generator), generator)
    return list(found.values())


class CudaGraph:
    """:class:`StepGraph` on ``torch.cuda.CUDAGraph``.

    Args:
        generators: CUDA generators other than the default one that the step draws from;
            they are registered so that every replay draws fresh numbers.
    """

    def __init__(self, generators: Sequence[torch.Generator] = ()) -> None:
        self.graph = torch.cuda.CUDAGraph()
        for generator in generators:
            self.graph.register_generator_state(generator)
        self._stream = torch.cuda.Stream()

    def capture(self, body: Callable[[], torch.Tensor]) -> torch.Tensor:
        torch.cuda.synchronize()
        with torch.cuda.graph(self.graph):
            return body()

    def replay(self) -> None:
        self.graph.replay()

    def side_stream(self) -> AbstractContextManager[object]:
        return _SideStream(self._stream)


class _SideStream:
    def __init__(self, stream: torch.cuda.Stream) -> None:
        self.stream = stream
        self._context: AbstractContextManager[object] = nullcontext()

    def __enter__(self) -> object:
        self.stream.wait_stream(torch.cuda.current_stream())
        self._context = torch.cuda.stream(self.stream)
        return self._context.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._context.__exit__(exc_type, exc, traceback)
        torch.cuda.current_stream().wait_stream(self.stream)


class GraphedStep:
    """One optimisation step per call: ``warmup`` eager steps, then a captured graph replayed.

    Args:
        eager_step: a whole step (zero the gradients, then ``body``); returns the summarised
            objective value.
        body: the step without zeroing: objective, backward, optimizer update. It is what
            gets captured, so it must not synchronise with the host. It may be
            ``eager_step`` itself when that zeroes with ``set_to_none`` (a no-op at the
            capture, where ``zero_grad`` has already removed the gradients).
        zero_grad: sets the optimised parameters' gradients to ``None`` (before capture).
        warmup: eager steps before the capture (at least 1: the optimizer creates its state
            in its first step).
        graph_factory: builds the graph (default :class:`CudaGraph`).
        fall_back: when the capture fails, log it and keep stepping eagerly; otherwise raise.

    Each call returns the value of the step it ran. After the capture that tensor is the
    graph's static output, overwritten by the next replay: clone it to keep it.
    """

    def __init__(
        self,
        eager_step: Callable[[], torch.Tensor],
        body: Callable[[], torch.Tensor],
        zero_grad: Callable[[], None],
        warmup: int = 3,
        graph_factory: Callable[[], StepGraph] = CudaGraph,
        fall_back: bool = True,
    ) -> None:
        self.warmup = check_int(warmup, "warmup", minimum=1)
        self.eager_step = eager_step
        self.body = body
        self.zero_grad = zero_grad
        self.fall_back = fall_back
        self.failed: BaseException | None = None
        self.replayed = 0  # calls answered by a replay (the capturing call included)
        self._graph_factory = graph_factory
        self._graph: StepGraph | None = None  # built at the first call; captured later
        self._static: torch.Tensor | None = None  # the captured step's output
        self._steps = 0

    @property
    def captured(self) -> bool:
        """True once the step is being replayed from a graph."""
        return self._static is not None

    def __call__(self) -> torch.Tensor:
        self._steps += 1
        if self.failed is not None:
            return self.eager_step()
        if self._graph is None:
            self._graph = self._graph_factory()
        static = self._static
        if static is None:
            if self._steps <= self.warmup:
                with self._graph.side_stream():
                    return self.eager_step()
            static = self._capture(self._graph)
            if static is None:
                return self.eager_step()
        self._graph.replay()
        self.replayed += 1
        return static

    def _capture(self, graph: StepGraph) -> torch.Tensor | None:
        """Capture ``body``; its static output, or ``None`` when the capture failed."""
        self.zero_grad()
        try:
            static = graph.capture(self.body)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            reason = _reasons(exc)
            if not self.fall_back:
                raise RuntimeError(
                    f"Capturing the optimisation step as a CUDA graph failed: {reason}. Something "
                    "in the step synchronises with the host (.item(), bool(tensor), a CPU "
                    "tensor moved to the GPU, data-dependent shapes); remove it or run with "
                    "FastPath(cuda_graph=False)."
                ) from exc
            logger.warning(
                "Capturing the optimisation step as a CUDA graph failed (%s); continuing "
                "without it. Pass FastPath(cuda_graph=False) to skip the attempt.",
                reason,
            )
            self.failed = exc
            return None
        if not isinstance(static, torch.Tensor):
            raise TypeError(f"The captured step must return a tensor, got {type(static).__name__}.")
        self._static = static
        return static


def _reasons(exc: BaseException) -> str:
    """``exc`` and the errors it was raised while handling, the first one first.

    A host synchronisation invalidates the capture, and ending the capture then raises an
    error of its own that says nothing about the cause: the cause is the first error.
    """
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "; then ".join(reversed(chain))
