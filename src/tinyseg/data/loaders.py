"""In-memory batching: the data sets live as uint8 tensors; a loader hands out index batches."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset


def tensor_loader(*tensors: torch.Tensor, batch_size: int, shuffle: bool, drop_last: bool = False) -> DataLoader:
    """Batches of the given tensors, gathered with one indexing operation per batch (no per-sample Python).

    Shuffling draws from torch's global generator, so a resumed run (which restores it) sees
    the same order as an uninterrupted one.
    """
    dataset = TensorDataset(*tensors)
    sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    # batch_size=None: the dataset is indexed with a whole list of indices per batch
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last), batch_size=None)
