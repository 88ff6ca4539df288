"""Fixtures for every package's tests: CUDA-graph replay on the CPU, a fake module distribution."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class _OpTape(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.ops.append((func, args, kwargs, out))
        return out


class TapeGraph:
    """Replays a step the way a CUDA graph does, on the CPU: no Python of the step runs again.

    ``capture`` runs the body once and records every aten operation with its output tensors.
    ``replay`` runs the recorded operations again and copies each result into the output
    tensor of the capture, so later operations (and the caller) read it at the same address,
    like a graph's static memory. Random operations draw again from their generators, as
    registered generators do on CUDA. Whatever the step's Python did besides tensor
    operations (appending to a list, reading a value) happens once, at capture.

    A real capture runs no kernel and GraphedStep replays right after it; here the capture
    already ran the step, so the first replay after it does nothing.
    """

    def __init__(self, generators=()) -> None:
        self.generators = list(generators)
        self.ops: list[tuple] = []
        self.replays = 0
        self._ran_at_capture = False

    def capture(self, body):
        tape = _OpTape()
        with tape:
            out = body()
        self.ops = tape.ops
        self._ran_at_capture = True
        return out

    @torch.no_grad()
    def replay(self) -> None:
        self.replays += 1
        if self._ran_at_capture:
            self._ran_at_capture = False
            return
        for func, args, kwargs, out in self.ops:
            fresh, _ = tree_flatten(func(*args, **kwargs))
            static, _ = tree_flatten(out)
            for old, new in zip(static, fresh, strict=True):
                if isinstance(old, torch.Tensor) and not _same_memory(old, new):
                    old.copy_(new)

    def side_stream(self):
        return nullcontext()


def _same_memory(a: torch.Tensor, b: object) -> bool:
    """A view op's output shares its input's memory: nothing to copy (and expanded views
    cannot be written to)."""
    return isinstance(b, torch.Tensor) and a.untyped_storage().data_ptr() == (
        b.untyped_storage().data_ptr()
    )


@pytest.fixture
def sgd_for_adam(monkeypatch) -> list[dict]:
    """The default Adam of a run becomes SGD with momentum: capturable Adam is CUDA-only, and
    CPU Adam reads its step count on the host, which a replayed graph would freeze. Returns
    the keyword arguments each Adam was asked for with (``capturable`` among them)."""
    requests: list[dict] = []

    def adam(params, **kwargs):
        requests.append(kwargs)
        return torch.optim.SGD(params, lr=kwargs["lr"], momentum=0.9)

    monkeypatch.setattr(torch.optim, "Adam", adam)
    return requests


@pytest.fixture
def tape_graph(monkeypatch):
    """A context manager: inside it, InputOptimization's step runner takes its CUDA-graph branch
    on the CPU with :class:`TapeGraph` (2 warm-up steps); it yields the graphs built. Options: the
    autocast dtype, ``fuse`` (fuse TransformationRobustness) and ``explicit`` (a step that
    cannot be captured raises instead of running eagerly)."""
    import optim.optimization.step_runner as step_runner
    from optim.optimization import FastPath

    base = replace(
        FastPath.off().resolve(torch.device("cpu")),
        cuda_graph=True,
        warmup_steps=2,
        check_finite_every=4,
    )

    @contextmanager
    def forced(
        autocast: torch.dtype | None = None, *, fuse: bool = True, explicit: bool = True
    ) -> Iterator[list[TapeGraph]]:
        built: list[TapeGraph] = []
        resolved = replace(
            base, autocast_dtype=autocast, fuse_transforms=fuse, cuda_graph_explicit=explicit
        )

        def graph(generators=()):
            built.append(TapeGraph(generators))
            return built[-1]

        with monkeypatch.context() as patch:
            patch.setattr(FastPath, "resolve", lambda self, device: resolved)
            patch.setattr(step_runner, "CudaGraph", graph)
            yield built

    return forced


@pytest.fixture
def fake_module_dist(tmp_path, monkeypatch):
    """A distribution declaring `opt.fakeshapes` as an optim.modules entry point."""
    import optim as opt
    from optim import plugins

    (tmp_path / "fakeshapes_pkg.py").write_text("SIDES = 4\n")
    info = tmp_path / "fakeshapes-2.5.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeshapes\nVersion: 2.5\n")
    (info / "entry_points.txt").write_text("[optim.modules]\nfakeshapes = fakeshapes_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.refresh()
    yield
    vars(opt).pop("fakeshapes", None)
    sys.modules.pop("fakeshapes_pkg", None)
    plugins.refresh()


def spec_rows_without_a_test(module) -> list[str]:
    """The names in ``module.SPEC_ROWS`` that no ``@pytest.mark.spec_row(...)`` test names.

    Read from the module's own objects (not the collected items), so ``-k`` cannot hide a row.
    """
    covered: set[str] = set()
    for obj in vars(module).values():
        for mark in getattr(obj, "pytestmark", []):
            if mark.name == "spec_row":
                covered.update(mark.args)
    return sorted(set(module.SPEC_ROWS) - covered)


def resolve_spec_row(name: str) -> Any:
    """The object a dotted SPEC row names (``optim.transforms.ToRGB.klt_transform``).

    Attributes come first: ``optim.transforms.center_crop`` is the function the package
    exports, not the submodule of the same name. Raises ImportError / AttributeError.
    """
    import importlib

    parts = name.split(".")
    obj = importlib.import_module(parts[0])
    for index in range(1, len(parts)):
        if hasattr(obj, parts[index]):
            obj = getattr(obj, parts[index])
            continue
        # ``optim.models.clip_resnet50x4_image`` is a factory and a submodule: look in the module
        module = importlib.import_module(".".join(parts[:index]))
        if hasattr(module, parts[index]):
            obj = getattr(module, parts[index])
        else:
            obj = importlib.import_module(".".join(parts[: index + 1]))
    return obj


def unresolvable_spec_rows(module) -> list[str]:
    """The dotted names in ``module.SPEC_ROWS`` that do not import (``optim.loss.L2`` style)."""
    missing = []
    for name in module.SPEC_ROWS:
        try:
            resolve_spec_row(name)
        except (ImportError, AttributeError):
            missing.append(name)
    return missing


@pytest.fixture
def spec_row_report(request):
    """``(rows without a test, rows that do not import)`` for the requesting conformance module."""
    return spec_rows_without_a_test(request.module), unresolvable_spec_rows(request.module)


@pytest.fixture
def spec_row_object():
    """:func:`resolve_spec_row`, for tests that inspect what a row names (its signature)."""
    return resolve_spec_row
