"""The skorch net of :class:`~sklearn_openset.CACClassifier`."""

from skorch import NeuralNet
from skorch.utils import to_tensor


class _CACNeuralNet(NeuralNet):
    """skorch net for :class:`~sklearn_openset.nn.CACNet`.

    The module returns ``(logits, distances)``; the CAC loss reads the
    distances. The loss's two terms are recorded per batch
    (``train_anchor_loss``, ``train_tuplet_loss`` and their ``valid_``
    counterparts) and averaged per epoch by ``PassthroughScoring``.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        _, distances = y_pred
        y_true = to_tensor(y_true, device=self.device)
        total, anchor, tuplet = self.criterion_(distances, y_true, return_terms=True)
        prefix = "train" if training else "valid"
        self.history.record_batch(f"{prefix}_anchor_loss", anchor.item())
        self.history.record_batch(f"{prefix}_tuplet_loss", tuplet.item())
        return total
