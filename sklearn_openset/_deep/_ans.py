"""The skorch net of :class:`~sklearn_openset.ANSOneVsRestClassifier`."""

import torch
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch.nn import functional as F

from ..nn import synthesize_negatives


class _ANSNet(NeuralNet):
    """skorch net training the classifier and the heads with ANS.

    The module is a :class:`OneVsRestNet`; in training its forward gives the
    classifier's logits only (``heads=False``, a fit parameter), and
    ``get_loss`` adds to their cross-entropy the heads' ``L_open`` with the
    synthesized negatives of Algorithm 1. The two terms are recorded per
    batch (``train_ce_loss``, ``train_open_loss``) and averaged per epoch.
    """

    def __init__(self, module, *args, ans_params=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.ans_params = ans_params

    def get_loss(self, y_pred, y_true, X=None, training=False):
        class_logits = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        y_true = to_tensor(y_true, device=self.device)
        loss_ce = self.criterion_(class_logits, y_true)
        if not training:
            return loss_ce
        params = self.ans_params
        module = self.module_
        Z = module.standardize(to_tensor(X, device=self.device))
        n_classes = params["n_classes"]
        m = Z.shape[0] // n_classes

        # The heads: L_open = L_rest + lambda * L_syn, all heads at once.
        positives = Z.view(n_classes, m, -1)
        n_neg = params["negative_ratio"] * m
        # Real negatives of head c: random rows of the other classes' blocks.
        draw = torch.randint(
            0, (n_classes - 1) * m, (n_classes, n_neg), device=Z.device
        )
        own_block = torch.arange(n_classes, device=Z.device)[:, None] * m
        negatives = Z[draw + m * (draw >= own_block)]
        synthesized = synthesize_negatives(
            module.heads,
            positives,
            radius=module.radius,
            gamma=params["gamma"],
            noise_std=module.noise_std,
            n_steps=params["n_steps"],
            step_size=params["step_size"],
            mode=params["mode"],
            n_per_positive=params["n_synthetic"],
        )
        if params["weight"] <= 0:
            synthesized = None
        # One forward of the heads on [positives, negatives, synthesized]: one
        # batched product per layer, and one weight gradient
        # per layer in the backward pass instead of one per part.
        parts = [positives, negatives]
        if synthesized is not None:
            parts.append(synthesized)
        logits = module.heads(torch.cat(parts, dim=1))
        logits_pos = logits[:, :m]
        logits_neg = logits[:, m : m + n_neg]
        # Binary cross-entropy: softplus(-logit) for positives, softplus(logit)
        # for negatives; the mean over each head's positives plus the mean over
        # its negatives (times C - 1 for the paper's sum, rest_reduction="sum"),
        # so that the number of sampled negatives (negative_ratio) does not
        # change their weight.
        loss_rest = F.softplus(-logits_pos).mean(dim=1) + params[
            "rest_weight"
        ] * F.softplus(logits_neg).mean(dim=1)
        loss_open = loss_rest.sum()
        if synthesized is not None:
            loss_syn = F.softplus(logits[:, m + n_neg :]).mean(dim=1)
            loss_open = loss_open + params["weight"] * loss_syn.sum()
        self.history.record_batch("train_ce_loss", loss_ce.item())
        self.history.record_batch("train_open_loss", loss_open.item())
        # The classifier and the heads share no parameter: one backward of the
        # sum gives each exactly the gradient of its own term.
        return loss_ce + loss_open
