"""Scorers ``scorer(estimator, X, y)`` for model selection."""

import numpy as np

from ._classification import (
    _as_labels,
    _check_label_types,
    _label_masks,
    closed_set_accuracy_score,
    open_set_accuracy_score,
    open_set_f1_score,
    unknown_roc_auc_score,
)

_RESPONSES = ("predict", "score_samples", "predict_closed")


def _final_step(estimator):
    """The last step of (possibly nested) pipelines: it owns ``open_label``."""
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator


class _OpenSetScorer:
    """Call ``score_func(y, response, labels=classes_, open_label=...)``."""

    def __init__(self, score_func, response_method, kwargs):
        self._score_func = score_func
        self._response_method = response_method
        self._kwargs = kwargs

    def __call__(self, estimator, X, y):
        final = _final_step(estimator)
        open_label = getattr(final, "open_label", -1)
        # Before predicting: y of strings for an estimator fitted on numbers
        # (or the reverse) is a mistake, not a test fold of unknowns.
        _check_label_types(
            {
                "y": _label_masks(_as_labels(y), open_label),
                "estimator.classes_": _label_masks(
                    _as_labels(estimator.classes_), open_label
                ),
            },
            open_label,
        )
        if self._response_method == "predict_closed":
            response = estimator.classes_[np.argmax(estimator.predict_proba(X), axis=1)]
        else:
            response = getattr(estimator, self._response_method)(X)
        return self._score_func(
            y,
            response,
            labels=estimator.classes_,
            open_label=open_label,
            **self._kwargs,
        )

    def __repr__(self):
        kwargs = "".join(f", {k}={v!r}" for k, v in self._kwargs.items())
        return (
            f"make_open_set_scorer({self._score_func.__name__}, "
            f"response_method={self._response_method!r}{kwargs})"
        )


def make_open_set_scorer(score_func, *, response_method="predict", **kwargs):
    """Make a scorer from an open-set metric.

    The scorer is a callable ``scorer(estimator, X, y)`` for the ``scoring``
    parameter of :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_validate`. Labels of ``y`` that are
    not in ``estimator.classes_`` count as open, so a test fold may hold
    classes the fold's estimator never saw (see
    :class:`~sklearn_openset.model_selection.PseudoOpenSetSplit`). Labels of
    another type are a mistake, not unknowns: the scorer raises a
    ``ValueError`` before predicting when ``y`` and ``estimator.classes_`` mix
    strings and numbers (``open_label`` aside).

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, response, *, labels, open_label, **kwargs)``,
        greater is better, e.g. :func:`open_set_f1_score`.
    response_method : {"predict", "score_samples", "predict_closed"}, \
            default="predict"
        What the estimator gives to ``score_func``: its predictions, its
        known-ness scores, or its closed-set predictions (arg-max of
        ``predict_proba``).
    **kwargs
        Passed on to ``score_func``.

    Returns
    -------
    scorer : callable

    Examples
    --------
    >>> from sklearn_openset.metrics import make_open_set_scorer, open_set_f1_score
    >>> f1_open = make_open_set_scorer(open_set_f1_score, average="open")
    >>> f1_open
    make_open_set_scorer(open_set_f1_score, response_method='predict', average='open')
    """
    if response_method not in _RESPONSES:
        raise ValueError(
            f"response_method must be one of {_RESPONSES}, got {response_method!r}."
        )
    if not callable(score_func):
        raise TypeError(f"score_func must be callable, got {score_func!r}.")
    return _OpenSetScorer(score_func, response_method, kwargs)


open_set_f1_scorer = make_open_set_scorer(open_set_f1_score)
open_set_accuracy_scorer = make_open_set_scorer(open_set_accuracy_score)
unknown_roc_auc_scorer = make_open_set_scorer(
    unknown_roc_auc_score, response_method="score_samples"
)
closed_set_accuracy_scorer = make_open_set_scorer(
    closed_set_accuracy_score, response_method="predict_closed"
)
