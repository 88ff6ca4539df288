"""Ranks: which share of a job this process renders, alone or under ``torchrun``.

``torchrun --nproc-per-node N -m optim.cli layer ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in their environment.
:func:`process_group` joins them into one ``torch.distributed`` process group (gloo on CPU,
nccl on CUDA, one GPU per rank from ``LOCAL_RANK``); a process started any other way is rank 0
of 1. Jobs shard whole batches of channels: batch ``k`` goes to rank ``k mod N``.

Example:
    >>> ranks = Ranks()
    >>> ranks.is_main, ranks.shard(["b0", "b1", "b2"])
    (True, ['b0', 'b1', 'b2'])
    >>> Ranks(rank=1, world_size=2).shard(["b0", "b1", "b2"])
    ['b1']
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

__all__ = ["RankFailedError", "Ranks", "current_ranks", "launched_by_torchrun", "process_group"]

T = TypeVar("T")
logger = logging.getLogger(__name__)

_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
WAIT = datetime.timedelta(hours=24)
"""How long a rank waits for the others at a collective before the job fails."""


class RankFailedError(RuntimeError):
    """Another rank of the job failed; the message is that rank's error."""


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: rank ``rank`` of ``world_size``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes the job's shared files and shows the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process renders this job."""
        return self.world_size > 1

    def check_enough(self, batches: int) -> None:
        """Refuse more ranks than batches (a rank with nothing to render is a launch mistake).

        Example:
            >>> Ranks(rank=0, world_size=4).check_enough(2)
            Traceback (most recent call last):
            ...
            ValueError: 4 ranks were launched but the job has only 2 batches of channels: launch at most 2 processes (torchrun --nproc-per-node), or lower --batch-size to make more batches.
        """  # noqa: E501
        if self.world_size > batches:
            raise ValueError(
                f"{self.world_size} ranks were launched but the job has only {batches} "
                f"batch{'es' if batches != 1 else ''} of channels: launch at most {batches} "
                "processes (torchrun --nproc-per-node), or lower --batch-size to make more "
                "batches."
            )

    def shard(self, items: Sequence[T], first_rank: int = 0) -> list[T]:
        """This rank's share of ``items``: item ``k`` goes to rank ``(first_rank + k) mod
        world_size``.

        Example:
            >>> Ranks(rank=0, world_size=2).shard(["b0", "b1", "b2"], first_rank=1)
            ['b1']
        """
        return list(items[(self.rank - first_rank) % self.world_size :: self.world_size])

    def log(self, message: str) -> None:
        """Log ``message`` (INFO, logger ``optim.rendering.ranks``) prefixed with the rank,
        when the job is distributed; the CLI shows these lines on stderr."""
        if self.distributed:
            logger.info("[rank %d/%d] %s", self.rank, self.world_size, message)

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value``, on every rank (a picklable object)."""
        if not self.distributed:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        values: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(values, value)
        return values

    def raise_if_any_failed(self, error: str | None) -> None:
        """Exchange each rank's error (``None``: it finished); raise the first one on every
        rank, so a job fails with the failing rank's own message."""
        errors = self.all_gather(error)
        failed = [(rank, e) for rank, e in enumerate(errors) if e is not None]
        if failed and errors[self.rank] is None:  # a failed rank raises its own exception
            rank, message = failed[0]
            raise RankFailedError(f"rank {rank} of {self.world_size} failed: {message}")


def current_ranks() -> Ranks:
    """The ranks of the initialised ``torch.distributed`` process group, or rank 0 of 1.

    Example:
        >>> current_ranks().world_size
        1
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    world = dist.get_world_size()
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    rank = dist.get_rank()
    return Ranks(rank, world, int(os.environ.get("LOCAL_RANK", rank)), local_world)


def launched_by_torchrun() -> bool:
    """Whether the environment describes a rank of a ``torchrun`` job.

    Example:
        >>> from unittest import mock
        >>> torchrun = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
        ...             "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
        >>> with mock.patch.dict(os.environ, torchrun):
        ...     launched_by_torchrun()
        True
        >>> with mock.patch.dict(os.environ, {"RANK": "1"}, clear=True):
        ...     launched_by_torchrun()
        False
    """
    return all(name in os.environ for name in _TORCHRUN_ENV)


def _rank_device(device: str | None) -> str | None:
    """Under torchrun, ``cuda`` means this rank's GPU: ``cuda:<LOCAL_RANK>``."""
    if device is None or not device.startswith("cuda"):
        return device
    local_rank = int(os.environ["LOCAL_RANK"])
    wanted = torch.device(device)
    if wanted.index is not None and int(os.environ.get("LOCAL_WORLD_SIZE", 1)) > 1:
        raise ValueError(
            f"device={device!r} under torchrun with several processes per node: pass "
            "--device cuda, and each rank takes the GPU of its LOCAL_RANK."
        )
    return f"cuda:{local_rank}" if wanted.index is None else device


def _threads_per_rank() -> None:
    """No oversubscription: the ranks of a node share its cores (``OMP_NUM_THREADS``, which
    torchrun sets to 1, is kept when lower)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    share = max(1, (cores or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
    torch.set_num_threads(min(torch.get_num_threads(), share))


@contextmanager
def process_group(device: str | None = None) -> Iterator[tuple[Ranks, str | None]]:
    """Join torchrun's process group for the duration of a job; yields ``(ranks, device)``.

    Outside torchrun (or when a group is initialised already) nothing is set up and the
    current ranks are yielded. Under torchrun: gloo on CPU, nccl on CUDA, ``cuda`` becomes
    ``cuda:<LOCAL_RANK>``, threads are divided among the node's ranks; the group is destroyed
    on exit.

    Example:
        >>> with process_group("cpu") as (ranks, device):
        ...     ranks.world_size, device
        (1, 'cpu')
    """
    dist = torch.distributed
    if not launched_by_torchrun() or not dist.is_available() or dist.is_initialized():
        yield current_ranks(), device
        return
    device = _rank_device(device)
    on_cuda = device is not None and device.startswith("cuda")
    if device is not None and on_cuda:
        torch.cuda.set_device(torch.device(device))
    _threads_per_rank()
    # A rank waits at a collective while the others finish a batch (or rank 0 computes
    # exemplars): allow much more than torch's default 30 minutes.
    dist.init_process_group(backend="nccl" if on_cuda else "gloo", timeout=WAIT)
    try:
        yield current_ranks(), device
        dist.barrier()  # leave together: a rank tearing down while another works aborts gloo
    finally:
        dist.destroy_process_group()
