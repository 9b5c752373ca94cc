"""The LfOSA detector's loss: cross-entropy on temperature-scaled logits."""

from numbers import Real

from torch import nn
from torch.nn import functional as F

__all__ = ["TemperatureCrossEntropyLoss"]


class TemperatureCrossEntropyLoss(nn.Module):
    """Cross-entropy of the logits divided by a temperature.

    ``loss = CE(logits / temperature, target)``, averaged over the batch. A
    temperature below 1 sharpens the softmax during training, which spreads
    the maximum activation values of known and unknown samples further apart
    (Ning et al., "Active Learning for Open-set Annotation", CVPR 2022, Sec.
    3.2; their detector uses 0.5).

    Parameters
    ----------
    temperature : float, default=0.5
        Positive divisor of the logits.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import TemperatureCrossEntropyLoss
    >>> logits, target = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    >>> loss = TemperatureCrossEntropyLoss(temperature=0.5)(logits, target)
    >>> round(loss.item(), 4)  # CE of [4, 0]
    0.0181
    """

    def __init__(self, temperature=0.5):
        super().__init__()
        if isinstance(temperature, bool) or not isinstance(temperature, Real):
            raise TypeError(f"temperature must be a float, got {temperature!r}.")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}.")
        self.temperature = float(temperature)

    def forward(self, logits, target):
        return F.cross_entropy(logits / self.temperature, target)
