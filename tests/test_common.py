"""scikit-learn's estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_openset.utils._testing import (
    all_estimators,
    expected_failed_checks,
    make_test_instance,
)

ESTIMATORS = [make_test_instance(cls) for _, cls in all_estimators()]


def test_estimators_found():
    assert "MSPClassifier" in {type(est).__name__ for est in ESTIMATORS}


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
