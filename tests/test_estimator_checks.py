"""The open-set checks fail on estimators that break the contract."""

import numpy as np
import pytest

from sklearn_openset import MSPClassifier
from sklearn_openset.utils.estimator_checks import (
    check_open_set_estimator,
    open_set_checks,
)


def _run(estimator, name):
    (check,) = [c for c in open_set_checks(estimator) if c.func.__name__ == name]
    check(estimator)


class _IgnoresThreshold(MSPClassifier):
    """Rejects at a fixed 0.5, whatever threshold_ is."""

    def _open_set_decision(self, X):
        index, score, _ = self._open_set_parts(X)
        return index, score < 0.5


class _DrawsFromNumpy(MSPClassifier):
    def fit(self, X, y, **fit_params):
        np.random.rand()
        return super().fit(X, y, **fit_params)


class _ChangesInput(MSPClassifier):
    def fit(self, X, y, **fit_params):
        X[0, 0] += 1.0
        return super().fit(X, y, **fit_params)


class _DependsOnBatch(MSPClassifier):
    def _open_set_parts(self, X):
        index, score, own = super()._open_set_parts(X)
        return index, score + 1e-3 * len(X), own


def test_a_conforming_estimator_passes():
    check_open_set_estimator(MSPClassifier())


@pytest.mark.parametrize(
    "estimator, check",
    [
        (_IgnoresThreshold(), "check_threshold_in_score_units"),
        (_DrawsFromNumpy(), "check_global_state_and_inputs_untouched"),
        (_ChangesInput(), "check_global_state_and_inputs_untouched"),
        (_DependsOnBatch(), "check_scores_do_not_depend_on_the_batch"),
    ],
)
def test_each_check_catches_its_defect(estimator, check):
    with pytest.raises(AssertionError):
        _run(estimator, check)
