"""Torch modules and losses used by the deep open-set estimators.

Backbones (:class:`MLP` for vectors, :class:`Classifier32` for small images)
map inputs to logits and expose their penultimate features through
``forward_features``; the CAC parts turn logits into distances to fixed class
anchors and train them with the Class Anchor Clustering loss; the DHRNets
(CROSR) add lateral latent codes and a decoder that reconstructs the input;
the ANS parts
are one-vs-rest binary heads with stacked weights and the synthesis of adaptive
negative samples in feature space; the LfOSA detector trains torchvision's
ResNet-18 (:func:`cifar_resnet18`) or an MLP with
:class:`TemperatureCrossEntropyLoss`.

This subpackage is the torch part of the library (the ``deep`` extra):
``import sklearn_openset`` does not import it.
"""

from ..utils._optional import check_extra

check_extra("sklearn_openset.nn", "deep", packages=("torch",))

from ._backbones import MLP, Classifier32, cifar_resnet18
from ._cac import (
    AnchorDistance,
    CACLoss,
    CACNet,
    cac_rejection_score,
    class_anchors,
)
from ._dhrnet import DHRNet, DHRNetLoss, VectorDHRNet
from ._lfosa import TemperatureCrossEntropyLoss
from ._ovr import (
    OneVsRestHeads,
    OneVsRestNet,
    project_to_shell,
    synthesize_negatives,
)

__all__ = [
    "MLP",
    "AnchorDistance",
    "CACLoss",
    "CACNet",
    "Classifier32",
    "DHRNet",
    "DHRNetLoss",
    "OneVsRestHeads",
    "OneVsRestNet",
    "TemperatureCrossEntropyLoss",
    "VectorDHRNet",
    "cac_rejection_score",
    "cifar_resnet18",
    "class_anchors",
    "project_to_shell",
    "synthesize_negatives",
]
