"""Run estimators under the papers' open-set protocols.

This is what ``sklearn-openset evaluate`` runs. Its tables of estimators and
datasets (:data:`ESTIMATORS`, :data:`DATASETS`) hold the library's own and
take more through :func:`register_estimator` and :func:`register_dataset`.
"""

from ._protocol import (
    CACHE_ENV,
    DATASETS,
    ESTIMATORS,
    evaluate_estimator,
    evaluate_predictions,
    format_results,
    get_cache_home,
    load_class_split_trial,
    register_dataset,
    register_estimator,
    run_protocol,
    summarize,
)

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "ESTIMATORS",
    "evaluate_estimator",
    "evaluate_predictions",
    "format_results",
    "get_cache_home",
    "load_class_split_trial",
    "register_dataset",
    "register_estimator",
    "run_protocol",
    "summarize",
]
