"""Training and inference plumbing of :class:`~sklearn_openset.base.BaseTorchEstimator`."""

import math
import warnings

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

#: The optimizers named by ``optimizer`` (the names are ``base.OPTIMIZER_NAMES``).
_OPTIMIZERS = {
    # SGD with momentum 0.9 is what the CAC and OpenMax reference trainings use.
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
}

_INFERENCE_DTYPES = {"float32": torch.float32, "float64": torch.float64}


# -- batches -----------------------------------------------------------------------
def _class_balanced_rows(labels, n_per_class):
    """Index arrays of one epoch: ``n_per_class`` rows of every class per step.

    Each class's rows come from its own stream of random permutations, so
    within an epoch a row is repeated only once all rows of its class were
    used. An epoch has ``ceil(n_rows / (n_classes * n_per_class))`` steps, so
    every row is seen about once. The seed is drawn from torch's generator.
    """
    n_classes = int(labels.max()) + 1
    by_class = [np.flatnonzero(labels == c) for c in range(n_classes)]
    n_steps = math.ceil(len(labels) / (n_classes * n_per_class))
    rng = np.random.default_rng(int(torch.randint(2**62, ()).item()))
    needed = n_steps * n_per_class
    columns = []
    for rows in by_class:
        n_perms = math.ceil(needed / len(rows))
        stream = np.concatenate([rng.permutation(rows) for _ in range(n_perms)])
        columns.append(stream[:needed].reshape(n_steps, n_per_class))
    # (n_steps, n_classes, n_per_class): step s holds class c's rows in block c.
    return np.stack(columns, axis=1).reshape(n_steps, -1)


class _ArrayBatches:
    """skorch iterator over the arrays of a skorch ``Dataset``, a batch at a time.

    skorch's default ``DataLoader`` fetches a batch sample by sample and
    collates it; for small vector inputs that costs more than the training
    step itself. Here each batch is one slice (or one fancy index) of the
    arrays, as tensors sharing their memory. The shuffled order is a
    ``torch.randperm`` from torch's global generator, which ``fit`` seeds.
    With ``n_per_class``, each batch holds ``n_per_class`` samples of every
    class, class after class (``batch_size`` and ``shuffle`` are then
    ignored). Any other dataset goes through a plain ``DataLoader``.
    """

    def __init__(self, dataset, *, batch_size, shuffle=False, n_per_class=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.n_per_class = n_per_class
        self._tensors = None
        if (
            isinstance(dataset, Dataset)
            and isinstance(dataset.X, np.ndarray)
            and (dataset.y is None or isinstance(dataset.y, np.ndarray))
        ):
            with warnings.catch_warnings():
                # Read-only arrays (e.g. memory maps) are shared, not copied:
                # the batches are new tensors, nothing writes into these.
                warnings.filterwarnings("ignore", message=".*not writable.*")
                self._tensors = (
                    torch.from_numpy(dataset.X),
                    None if dataset.y is None else torch.from_numpy(dataset.y),
                )
        if n_per_class is not None:
            if self._tensors is None or self._tensors[1] is None:
                raise TypeError("n_per_class needs a skorch Dataset of arrays X and y.")
            labels = dataset.y
            self._n_steps = math.ceil(
                len(labels) / ((int(labels.max()) + 1) * n_per_class)
            )

    def __len__(self):
        if self.n_per_class is not None:
            return self._n_steps
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        if self._tensors is None:
            yield from DataLoader(
                self.dataset, batch_size=self.batch_size, shuffle=self.shuffle
            )
            return
        X, y = self._tensors
        if self.n_per_class is not None:
            for rows in _class_balanced_rows(self.dataset.y, self.n_per_class):
                rows = torch.from_numpy(rows)
                yield X[rows], y[rows]
            return
        n = len(X)
        order = torch.randperm(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            rows = slice(start, start + self.batch_size)
            if order is not None:
                rows = order[rows]
            yield X[rows], (None if y is None else y[rows])


class _Inference(torch.nn.Module):
    """The module seen at inference: one of its methods, in a chosen dtype."""

    def __init__(self, module, method=None, dtype=None):
        super().__init__()
        self.module = module
        self.method = method
        self.dtype = dtype

    def forward(self, x):
        if self.dtype is not None and torch.is_floating_point(x):
            x = x.to(self.dtype)
        call = self.module if self.method is None else getattr(self.module, self.method)
        return call(x)
