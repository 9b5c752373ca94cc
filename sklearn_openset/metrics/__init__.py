"""Open-set metrics and scorers.

Every label that is ``open_label`` or is not among the known labels counts as
the open class.
"""

from ._classification import (
    closed_set_accuracy_score,
    open_set_accuracy_score,
    open_set_f1_score,
    unknown_roc_auc_score,
)
from ._scorer import (
    closed_set_accuracy_scorer,
    make_open_set_scorer,
    open_set_accuracy_scorer,
    open_set_f1_scorer,
    unknown_roc_auc_scorer,
)

__all__ = [
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
