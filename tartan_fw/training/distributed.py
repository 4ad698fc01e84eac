"""Data parallelism over processes launched by ``torchrun``: every rank a slice of each global batch.

Every rank holds the whole model and draws the same global batches (same seeds, same streams,
same masking), then trains on its own contiguous slice of rows. The trainer divides each task's
summed loss by the *global* batch's target count, so summing the ranks' gradients (one
all-reduce of the flat body gradient per task, one of the head gradients) gives exactly the
gradient a single process would compute on the whole batch, up to float summation order. Every
rank then holds the same gradients, so weighters (META-TARTAN included) and optimisers take the
same decisions and the weights stay identical without ever being broadcast.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import torch
import torch.distributed as dist

from tartan_fw.common.processes import die_with_parent
from tartan_fw.data.batching import Batch, batch_size, split_batch
from tartan_fw.errors import TartanError


class DataParallel:
    """This process's rank among ``world_size``; with one process every operation is a no-op."""

    def __init__(self, rank: int = 0, world_size: int = 1, device: Optional[torch.device] = None) -> None:
        self.rank, self.world_size = rank, world_size
        self.device = device or torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run directory: logs, TensorBoard, checkpoints, metrics."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def shard(self, batch: Batch) -> Batch:
        """This rank's contiguous slice of a global batch (scalars such as ``num_targets`` stay global)."""
        if not self.active:
            return batch
        if batch_size(batch) < self.world_size:
            raise TartanError(
                f"a batch of {batch_size(batch)} cannot be shared by {self.world_size} processes; "
                f"raise every task's batch_size to at least {self.world_size}"
            )
        return split_batch(batch, self.world_size)[self.rank]

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sums ``tensor`` over ranks, in place."""
        if self.active:
            dist.all_reduce(tensor)
        return tensor

    def sum_all_(self, tensors: list[torch.Tensor]) -> None:
        """Sums many small tensors over ranks with one all-reduce."""
        if not self.active or not tensors:
            return
        flat = self.sum_(torch.cat([t.reshape(-1) for t in tensors]))
        for tensor, part in zip(tensors, flat.split([t.numel() for t in tensors])):
            tensor.copy_(part.view_as(tensor))

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The mean over ranks, in place (``WeighterContext.all_reduce``)."""
        if self.active:
            dist.all_reduce(tensor)
            tensor.div_(self.world_size)
        return tensor

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank (a stop request, for instance)."""
        if not self.active:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (evaluation results, so every rank decides alike)."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.active:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (filling shared caches), the other ranks after it."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()


@contextmanager
def data_parallel(device: torch.device) -> Iterator[DataParallel]:
    """Join the process group that ``torchrun`` describes in the environment, or run alone.

    ``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; each rank then uses GPU
    ``LOCAL_RANK`` with NCCL, or the CPU with gloo. A rank ends with its launcher (``kill -9`` of
    ``torchrun`` included) rather than train on as an orphan.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        yield DataParallel(device=device)
        return
    die_with_parent(os.getppid())
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    joined = not dist.is_initialized()
    if joined:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield DataParallel(rank, world_size, device)
    finally:
        if joined:
            dist.destroy_process_group()
