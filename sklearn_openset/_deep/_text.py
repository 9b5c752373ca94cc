"""The fine-tuning parts of :class:`~sklearn_openset.feature_extraction.TextEmbedder`."""

import math

import numpy as np
import torch
from torch import nn


def _length_bucketed_batches(lengths, batch_size, bucket=50):
    """Shuffled batches of texts of similar lengths (less padding).

    The texts are shuffled, cut into chunks of ``bucket`` batches, sorted by
    length within each chunk and batched; the batches are shuffled again.
    Uses torch's random generator.
    """
    order = torch.randperm(len(lengths)).numpy()
    chunk = batch_size * bucket
    batches = []
    for start in range(0, len(order), chunk):
        rows = order[start : start + chunk]
        rows = rows[np.argsort(lengths[rows], kind="stable")]
        batches += [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches)).tolist()]


def _pool(hidden, mask, pooling):
    """Mean over the real tokens, or the first ([CLS]) token."""
    if pooling == "cls":
        return hidden[:, 0]
    mask = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)


class _LengthBucketedIterator:
    """skorch ``iterator_train`` of the fine-tuning: padded batches of token ids.

    The dataset's ``X`` holds row numbers into ``ids`` (the texts' token
    ids); each epoch the rows are batched by :func:`_length_bucketed_batches`
    and ``pad`` turns a batch's ids into the model's inputs.
    """

    def __init__(self, dataset, *, batch_size, ids, pad, shuffle=None):
        self.rows = np.asarray(dataset.X)
        self.y = torch.as_tensor(np.asarray(dataset.y))
        self.batch_size = batch_size
        self.ids = ids
        self.pad = pad
        self.lengths = np.array([len(ids[i]) for i in self.rows])

    def __len__(self):
        return math.ceil(len(self.rows) / self.batch_size)

    def __iter__(self):
        for batch in _length_bucketed_batches(self.lengths, self.batch_size):
            rows = self.rows[batch]
            yield self.pad([self.ids[i] for i in rows]), self.y[torch.from_numpy(batch)]


class _FineTuneModule(nn.Module):
    """The encoder with a linear classifier on its pooled states, for fine-tuning.

    Only ``trainable`` layers ever go to train mode (dropout): the frozen
    lower layers run as at inference, whatever mode skorch asks for.
    """

    def __init__(self, model, trainable, n_classes, pooling):
        super().__init__()
        self.model = model
        self.head = nn.Linear(model.config.hidden_size, n_classes)
        self.trainable = nn.ModuleList(trainable)
        self.pooling = pooling

    def train(self, mode=True):
        self.training = mode
        self.model.eval()
        self.head.train(mode)
        for layer in self.trainable:
            layer.train(mode)
        return self

    def forward(self, input_ids, attention_mask, **inputs):
        hidden = self.model(
            input_ids=input_ids, attention_mask=attention_mask, **inputs
        ).last_hidden_state
        # The classifier sees the pooled states before the normalization: on
        # unit vectors its logits could not grow and the cross-entropy would
        # stall.
        return self.head(_pool(hidden, attention_mask, self.pooling))
