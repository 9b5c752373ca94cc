"""scikit-learn's estimator checks and the open-set checks on every public estimator."""

import pytest
from sklearn.base import clone

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_openset.utils._testing import (
    expected_failed_checks,
    expected_failed_open_set_checks,
    open_set_test_instances,
    make_test_instances,
)
from sklearn_openset.utils.estimator_checks import (
    open_set_checks,
    parametrize_with_open_set_checks,
)

ESTIMATORS = make_test_instances()
OPEN_SET_ESTIMATORS = open_set_test_instances()


def test_estimators_found():
    names = {type(est).__name__ for est in ESTIMATORS}
    assert {"MSPClassifier", "OpenMaxClassifier", "CACClassifier"} <= names
    # Every configuration has its table of expected failures.
    assert all(expected_failed_checks(est) for est in ESTIMATORS)


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@parametrize_with_open_set_checks(
    OPEN_SET_ESTIMATORS, expected_failed_checks=expected_failed_open_set_checks
)
def test_open_set_estimator(estimator, check):
    check(estimator)


# The torch configurations: those that train a network (no wrapped estimator).
DEEP_ESTIMATORS = [
    est
    for est in OPEN_SET_ESTIMATORS
    if "device" in est.get_params() and est.get_params().get("estimator") is None
]


@pytest.mark.gpu
@pytest.mark.parametrize("estimator", DEEP_ESTIMATORS, ids=repr)
def test_open_set_checks_on_cuda(estimator):
    cuda = clone(estimator).set_params(device="cuda")
    assert cuda.__sklearn_tags__().non_deterministic
    for check in open_set_checks(cuda):
        # GPU kernels are not deterministic: two fits may differ.
        if check.func.__name__ != "check_seeded_fit_is_reproducible":
            check(cuda)
    from sklearn_openset.datasets import make_open_set_blobs

    X_train, _, y_train, _ = make_open_set_blobs(n_features=3, random_state=0)
    fitted = cuda.fit(X_train, y_train)
    assert next(fitted.net_.module_.parameters()).is_cuda
