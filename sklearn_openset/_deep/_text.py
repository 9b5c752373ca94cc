"""The fine-tuning parts of :class:`~sklearn_openset.feature_extraction.TextEmbedder`."""

import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

#: Above this size (float32 bytes) the frozen lower layers' states are not
#: kept: fine-tuning then runs the whole encoder every step.
_MAX_LOWER_STATES_BYTES = 2 * 1024**3


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
    """skorch ``iterator_train`` of the fine-tuning: padded batches of texts.

    The dataset's ``X`` holds text numbers; ``lengths`` gives every text's
    number of tokens. Each epoch the rows are batched by
    :func:`_length_bucketed_batches` and ``pad`` turns a batch's text numbers
    into the model's inputs.
    """

    def __init__(self, dataset, *, batch_size, lengths, pad, shuffle=None):
        self.rows = np.asarray(dataset.X)
        self.y = torch.as_tensor(np.asarray(dataset.y))
        self.batch_size = batch_size
        self.pad = pad
        self.lengths = np.asarray(lengths)[self.rows]

    def __len__(self):
        return math.ceil(len(self.rows) / self.batch_size)

    def __iter__(self):
        for batch in _length_bucketed_batches(self.lengths, self.batch_size):
            yield self.pad(self.rows[batch]), self.y[torch.from_numpy(batch)]


class _LowerLayerStates:
    """Every text's token states out of the frozen lower layers, kept on the CPU.

    Fine-tuning trains the top layers only; the layers below run in eval
    mode without gradients, so their output for a text is the same at every
    step. Computed once, these states replace the lower layers in every
    epoch and in the embedding of the training texts that follows.
    """

    def __init__(self, states):
        self.lengths = np.array([len(state) for state in states])
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.flat = torch.cat(states)

    def batch(self, rows, device):
        """The states of texts ``rows``, zero-padded, with their attention mask."""
        lengths = self.lengths[rows]
        hidden = self.flat.new_zeros(
            (len(rows), int(lengths.max()), self.flat.shape[1])
        )
        mask = torch.zeros(hidden.shape[:2], dtype=torch.long)
        for j, (row, length) in enumerate(zip(rows, lengths)):
            start = self.offsets[row]
            hidden[j, :length] = self.flat[start : start + length]
            mask[j, :length] = 1
        return {"inputs_embeds": hidden.to(device), "attention_mask": mask.to(device)}


class _PassInputsEmbeds(nn.Module):
    """Stands in for an encoder's embedding layer: returns ``inputs_embeds`` as given."""

    def forward(self, *args, inputs_embeds=None, **kwargs):
        return inputs_embeds


@contextmanager
def _encoder_layers_swapped(model, parent, name, layers, *, skip_embeddings=False):
    """``model`` with the layer list ``parent.name`` replaced by ``layers``.

    With ``skip_embeddings``, ``model(inputs_embeds=h, attention_mask=m)``
    then runs ``layers`` on the token states ``h``; without, ``model(**inputs)``
    stops after ``layers``. The model is restored on exit.
    """
    original_layers = getattr(parent, name)
    original_embeddings = model.embeddings
    try:
        setattr(parent, name, nn.ModuleList(layers))
        if skip_embeddings:
            model.embeddings = _PassInputsEmbeds()
        yield model
    finally:
        setattr(parent, name, original_layers)
        model.embeddings = original_embeddings


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

    def forward(self, attention_mask, **inputs):
        hidden = self.model(attention_mask=attention_mask, **inputs).last_hidden_state
        # The classifier sees the pooled states before the normalization: on
        # unit vectors its logits could not grow and the cross-entropy would
        # stall.
        return self.head(_pool(hidden, attention_mask, self.pooling))
