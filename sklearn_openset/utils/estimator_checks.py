"""Open-set estimator checks, beside scikit-learn's.

scikit-learn's :func:`~sklearn.utils.estimator_checks.parametrize_with_checks`
checks the classifier contract; these check what is specific to an open-set
classifier (the contract in the user guide), for every estimator of this
library and for anyone writing a new open-set method, as imbalanced-learn does
for its samplers:

- ``predict`` returns labels of ``classes_`` or ``open_label`` only, in a
  dtype that holds both;
- ``fit`` refuses an ``open_label`` among the training labels;
- rejection follows ``threshold`` in ``score_samples`` units: with a number
  ``t``, ``predict`` equals ``open_label`` where ``score_samples < t`` and
  otherwise what it predicts without a threshold (``threshold=None``), so a
  threshold can be chosen from ``score_samples`` alone;
- ``predict_proba`` rows (and ``predict_open_proba`` rows, the unknown
  column last) sum to 1;
- scores do not depend on the other samples of the batch beyond float32
  rounding: at most ``BATCH_TOLERANCE`` times the largest score magnitude;
- a pickle round trip gives identical scores and predictions;
- ``fit`` and ``predict`` leave the inputs and the global numpy and torch
  random states untouched;
- the same ``random_state`` gives the same scores.

Use :func:`parametrize_with_open_set_checks` as a pytest decorator, or call
:func:`check_open_set_estimator` on an instance.
"""

import pickle
import sys
from functools import partial

import numpy as np
from sklearn.base import clone

from ..datasets import make_open_set_blobs

__all__ = [
    "BATCH_TOLERANCE",
    "check_open_set_estimator",
    "open_set_checks",
    "parametrize_with_open_set_checks",
]

#: Largest change of a sample's score with the other samples of its batch,
#: relative to the largest score magnitude: float32 rounding of the network's
#: matrix products (the library measures up to 1.5e-5).
BATCH_TOLERANCE = 1e-4


def _data(estimator):
    """An open-set problem: 3 known classes, 2 unknown, one column per class.

    Three features, so that the same data serves activation-vector
    (``"precomputed"``) estimators.
    """
    X_train, X_test, y_train, y_test = make_open_set_blobs(
        n_samples=500, n_features=3, cluster_std=1.5, random_state=0
    )
    params = estimator.get_params()
    if params.get("estimator") == "precomputed":
        # Activation vectors: minus the squared distance to each class mean.
        means = np.stack([X_train[y_train == c].mean(axis=0) for c in range(3)])
        X_train, X_test = (
            -((X[:, None, :] - means[None]) ** 2).sum(axis=2) for X in (X_train, X_test)
        )
    return X_train, X_test, y_train, y_test


def _seeded(estimator, **params):
    estimator = clone(estimator)
    if "random_state" in estimator.get_params():
        params.setdefault("random_state", 0)
    return estimator.set_params(**params)


def _torch_state():
    torch = sys.modules.get("torch")
    return None if torch is None else torch.get_rng_state()


def check_predict_returns_known_or_open(name, estimator):
    """``predict`` answers labels of ``classes_`` or ``open_label`` only."""
    X_train, X_test, y_train, _ = _data(estimator)
    names = np.array(["cat", "dog", "emu"])
    for y in (y_train, names[y_train]):
        fitted = _seeded(estimator).fit(X_train, y)
        y_pred = fitted.predict(X_test)
        assert y_pred.shape == (len(X_test),), f"{name}: predict shape {y_pred.shape}"
        np.testing.assert_array_equal(fitted.classes_, np.unique(y))
        allowed = set(fitted.classes_.tolist()) | {fitted.open_label}
        unexpected = set(y_pred.tolist()) - allowed
        assert not unexpected, (
            f"{name}: predict returned {sorted(map(str, unexpected))}"
        )
        # The dtype holds both: a string class is not cut, -1 is not "-1".
        kinds = {type(label) for label in y_pred[y_pred != fitted.open_label].tolist()}
        assert kinds <= {type(label) for label in fitted.classes_.tolist()}, (
            f"{name}: predict turned the classes into {kinds}"
        )


def _open_label_param(estimator):
    """``open_label``, or the nearest nested one of a meta-estimator.

    A meta-estimator such as ``TunedOpenSetThresholdCV`` takes its
    ``open_label`` from the estimator it wraps (``estimator__open_label``).
    """
    params = estimator.get_params()
    if "open_label" in params:
        return "open_label"
    nested = [key for key in params if key.endswith("__open_label")]
    return min(nested, key=len) if nested else "open_label"


def check_fit_refuses_open_label(name, estimator):
    """A training label equal to ``open_label`` is a ValueError naming it."""
    X_train, _, y_train, _ = _data(estimator)
    y = np.where(y_train == 0, -1, y_train)
    try:
        _seeded(estimator, **{_open_label_param(estimator): -1}).fit(X_train, y)
    except ValueError as error:
        assert "open_label" in str(error), f"{name}: message {error}"
    else:
        raise AssertionError(f"{name}: fit accepted open_label among the classes")


def check_threshold_in_score_units(name, estimator):
    """Rejection is ``score_samples < threshold_`` on top of the method's own rule."""
    X_train, X_test, y_train, _ = _data(estimator)
    free = _seeded(estimator, threshold=None).fit(X_train, y_train)
    scores = free.score_samples(X_test)
    assert scores.shape == (len(X_test),), f"{name}: score_samples shape"
    assert np.all(np.isfinite(scores)), f"{name}: non-finite scores"
    assert free.threshold_ == -np.inf, f"{name}: threshold=None gave {free.threshold_}"
    base = free.predict(X_test)
    for t in np.quantile(scores, [0.25, 0.75]):
        fitted = _seeded(estimator, threshold=float(t)).fit(X_train, y_train)
        assert fitted.threshold_ == t, f"{name}: threshold_ {fitted.threshold_} != {t}"
        expected = np.where(scores < t, fitted.open_label, base)
        np.testing.assert_array_equal(
            fitted.predict(X_test),
            expected.astype(base.dtype),
            err_msg=f"{name}: predict with threshold {t} is not score_samples < t "
            "on top of the predictions without a threshold",
        )
    auto = _seeded(estimator, threshold="auto").fit(X_train, y_train)
    accepted = np.mean(auto.score_samples(X_train) >= auto.threshold_)
    # "auto" accepts 95 % of chosen known samples (training or held-out rows,
    # the correctly classified ones): most training samples pass.
    assert accepted > 0.5, f"{name}: threshold='auto' accepts {accepted:.0%} of X_train"


def check_probabilities_sum_to_one(name, estimator):
    """``predict_proba`` and ``predict_open_proba`` rows sum to 1."""
    X_train, X_test, y_train, _ = _data(estimator)
    fitted = _seeded(estimator).fit(X_train, y_train)
    n_classes = len(fitted.classes_)
    if hasattr(fitted, "predict_proba"):
        proba = fitted.predict_proba(X_test)
        assert proba.shape == (len(X_test), n_classes), f"{name}: proba shape"
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    if hasattr(fitted, "predict_open_proba"):
        open_proba = fitted.predict_open_proba(X_test)
        assert open_proba.shape == (len(X_test), n_classes + 1), f"{name}: shape"
        np.testing.assert_allclose(open_proba.sum(axis=1), 1.0, rtol=1e-6)
        assert np.all(open_proba >= 0), f"{name}: negative probabilities"
        # The unknown column is last: where it wins, predict rejects.
        unknown_wins = open_proba.argmax(axis=1) == n_classes
        y_pred = fitted.predict(X_test)
        assert np.all(y_pred[unknown_wins] == fitted.open_label), (
            f"{name}: an input whose unknown probability is highest was accepted"
        )


def check_scores_do_not_depend_on_the_batch(name, estimator):
    """A sample's score moves with its batch by at most ``BATCH_TOLERANCE``."""
    X_train, X_test, y_train, _ = _data(estimator)
    fitted = _seeded(estimator).fit(X_train, y_train)
    together = fitted.score_samples(X_test)
    atol = BATCH_TOLERANCE * max(1.0, np.abs(together).max())
    one_by_one = np.concatenate([fitted.score_samples(x[None]) for x in X_test[:20]])
    np.testing.assert_allclose(one_by_one, together[:20], rtol=0, atol=atol)
    order = np.random.RandomState(0).permutation(len(X_test))
    shuffled = np.empty_like(together)
    shuffled[order] = fitted.score_samples(X_test[order])
    np.testing.assert_allclose(shuffled, together, rtol=0, atol=atol)


def check_pickle_round_trip(name, estimator):
    """A pickled and restored estimator gives identical scores and labels."""
    X_train, X_test, y_train, _ = _data(estimator)
    fitted = _seeded(estimator).fit(X_train, y_train)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        restored.score_samples(X_test), fitted.score_samples(X_test)
    )
    np.testing.assert_array_equal(restored.predict(X_test), fitted.predict(X_test))


def check_global_state_and_inputs_untouched(name, estimator):
    """``fit`` and ``predict`` change neither the inputs nor the global RNGs."""
    X_train, X_test, y_train, _ = _data(estimator)
    X_copy, y_copy, X_test_copy = X_train.copy(), y_train.copy(), X_test.copy()
    numpy_state = np.random.get_state()
    torch_state = _torch_state()
    fitted = _seeded(estimator).fit(X_train, y_train)
    fitted.predict(X_test)
    fitted.score_samples(X_test)
    np.testing.assert_array_equal(X_train, X_copy, err_msg=f"{name} changed X")
    np.testing.assert_array_equal(y_train, y_copy, err_msg=f"{name} changed y")
    np.testing.assert_array_equal(X_test, X_test_copy, err_msg=f"{name} changed X")
    state = np.random.get_state()
    assert np.array_equal(state[1], numpy_state[1]) and state[2:] == numpy_state[2:], (
        f"{name} changed numpy's global random state"
    )
    if torch_state is not None:
        assert sys.modules["torch"].equal(
            sys.modules["torch"].get_rng_state(), torch_state
        ), f"{name} changed torch's global random state"


def check_seeded_fit_is_reproducible(name, estimator):
    """Two fits with the same ``random_state`` give the same scores."""
    X_train, X_test, y_train, _ = _data(estimator)
    first = _seeded(estimator).fit(X_train, y_train).score_samples(X_test)
    second = _seeded(estimator).fit(X_train, y_train).score_samples(X_test)
    np.testing.assert_array_equal(first, second, err_msg=f"{name}: not reproducible")


_CHECKS = (
    check_predict_returns_known_or_open,
    check_fit_refuses_open_label,
    check_threshold_in_score_units,
    check_probabilities_sum_to_one,
    check_scores_do_not_depend_on_the_batch,
    check_pickle_round_trip,
    check_global_state_and_inputs_untouched,
    check_seeded_fit_is_reproducible,
)


def open_set_checks(estimator):
    """Yield the open-set checks of ``estimator``, each a one-argument callable.

    Parameters
    ----------
    estimator : estimator instance
        An unfitted open-set classifier.

    Yields
    ------
    check : callable
        ``check(estimator)`` raises an ``AssertionError`` on failure; its
        ``func.__name__`` names the check.
    """
    name = type(estimator).__name__
    for check in _CHECKS:
        yield partial(check, name)


def check_open_set_estimator(estimator):
    """Run every open-set check on ``estimator``; raise at the first failure.

    Parameters
    ----------
    estimator : estimator instance
        An unfitted open-set classifier (``fit``, ``predict``,
        ``score_samples``, ``threshold``, ``open_label``).

    Examples
    --------
    >>> from sklearn_openset import MSPClassifier
    >>> from sklearn_openset.utils.estimator_checks import check_open_set_estimator
    >>> check_open_set_estimator(MSPClassifier())
    """
    for check in open_set_checks(estimator):
        check(estimator)


def parametrize_with_open_set_checks(estimators, *, expected_failed_checks=None):
    """pytest decorator running the open-set checks on each estimator.

    Like :func:`sklearn.utils.estimator_checks.parametrize_with_checks`: the
    test function receives ``estimator`` and ``check`` and calls
    ``check(estimator)``.

    Parameters
    ----------
    estimators : list of estimator instances
    expected_failed_checks : callable, default=None
        ``expected_failed_checks(estimator)`` returns a dict from check name
        to the reason it fails; those checks are marked ``xfail(strict=True)``.

    Returns
    -------
    decorator : callable
    """
    import pytest

    def params():
        for estimator in estimators:
            expected = (
                expected_failed_checks(estimator) if expected_failed_checks else {}
            )
            for check in open_set_checks(estimator):
                check_name = check.func.__name__
                marks = ()
                if check_name in expected:
                    marks = pytest.mark.xfail(reason=expected[check_name], strict=True)
                yield pytest.param(
                    estimator, check, marks=marks, id=f"{estimator!r}-{check_name}"
                )

    return pytest.mark.parametrize("estimator, check", list(params()))
