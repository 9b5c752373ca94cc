"""Run estimators under the papers' open-set protocols.

This is what ``sklearn-openset evaluate`` runs. Estimators and datasets
register themselves with :func:`register_estimator` and
:func:`register_dataset`.
"""

from ._protocol import (
    DATASETS,
    ESTIMATORS,
    evaluate_estimator,
    format_results,
    register_dataset,
    register_estimator,
    run_protocol,
    summarize,
)

__all__ = [
    "DATASETS",
    "ESTIMATORS",
    "evaluate_estimator",
    "format_results",
    "register_dataset",
    "register_estimator",
    "run_protocol",
    "summarize",
]
