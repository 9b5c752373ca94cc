"""The skorch net of :class:`~sklearn_openset.CROSRClassifier`."""

from skorch import NeuralNet
from skorch.utils import to_tensor


class _CROSRNeuralNet(NeuralNet):
    """skorch net for a DHRNet: the loss reads the logits, the reconstruction and X.

    The two terms are recorded per batch (``train_classification_loss``,
    ``train_reconstruction_loss``) and averaged per epoch.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        logits, _, reconstruction = y_pred
        y_true = to_tensor(y_true, device=self.device)
        X = to_tensor(X, device=self.device)
        total, classification, error = self.criterion_(
            logits, reconstruction, y_true, X, return_terms=True
        )
        prefix = "train" if training else "valid"
        self.history.record_batch(
            f"{prefix}_classification_loss", classification.item()
        )
        self.history.record_batch(f"{prefix}_reconstruction_loss", error.item())
        return total
