"""Open-set metrics and scorers.

Every label that is ``open_label`` or is not among the known labels counts as
the open class. The displays (scikit-learn's ``from_estimator`` /
``from_predictions`` style, matplotlib needed) plot the scores, the ROC of
the unknown score and the per-class F1.
"""

from ._classification import (
    closed_set_accuracy_score,
    open_set_accuracy_score,
    open_set_f1_score,
    unknown_roc_auc_score,
)
from ._plot import OpenSetF1Display, ScoreDistributionDisplay, UnknownRocCurveDisplay
from ._scorer import (
    closed_set_accuracy_scorer,
    make_open_set_scorer,
    open_set_accuracy_scorer,
    open_set_f1_scorer,
    unknown_roc_auc_scorer,
)

__all__ = [
    "OpenSetF1Display",
    "ScoreDistributionDisplay",
    "UnknownRocCurveDisplay",
    "closed_set_accuracy_score",
    "closed_set_accuracy_scorer",
    "make_open_set_scorer",
    "open_set_accuracy_score",
    "open_set_accuracy_scorer",
    "open_set_f1_score",
    "open_set_f1_scorer",
    "unknown_roc_auc_score",
    "unknown_roc_auc_scorer",
]
