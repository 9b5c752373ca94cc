"""Active learning for open-set annotation.

Query strategies in scikit-activeml's pool-based convention (data in
``query(X, y, candidates=None, batch_size=1, return_utilities=False)``,
``missing_label`` for the unlabeled pool, ``open_label`` for samples found to
be unknown): :class:`LfOSASampler` (Ning et al., CVPR 2022) and the
baselines :class:`RandomSampler`, :class:`UncertaintySampler`,
:class:`CertaintySampler` and :class:`OpenSetScoreSampler`;
:func:`simulate_annotation` runs a campaign with an oracle and
:class:`AnnotationCurveDisplay` plots it. :class:`SkactivemlQueryStrategy`
(needs scikit-activeml) hands a strategy to scikit-activeml's own tools.
"""

from ._base import BaseOpenSetQueryStrategy
from ._baselines import (
    CertaintySampler,
    OpenSetScoreSampler,
    RandomSampler,
    UncertaintySampler,
)
from ._lfosa import LfOSASampler
from ._simulation import (
    AnnotationCurveDisplay,
    AnnotationSimulation,
    simulate_annotation,
)

__all__ = [
    "AnnotationCurveDisplay",
    "AnnotationSimulation",
    "BaseOpenSetQueryStrategy",
    "CertaintySampler",
    "LfOSASampler",
    "OpenSetScoreSampler",
    "RandomSampler",
    "SkactivemlQueryStrategy",
    "UncertaintySampler",
    "simulate_annotation",
]


def __getattr__(name):
    # Imported on first use: scikit-activeml is optional.
    if name == "SkactivemlQueryStrategy":
        from ._skactiveml import SkactivemlQueryStrategy

        return SkactivemlQueryStrategy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
