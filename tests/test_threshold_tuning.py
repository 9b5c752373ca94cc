"""Tests of sklearn_openset.model_selection.TunedOpenSetThresholdCV."""

import math
import pickle

import numpy as np
import pytest
from joblib import parallel_backend
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_openset import MSPClassifier, OpenMaxClassifier
from sklearn_openset.datasets import load_digits_open_set, make_open_set_blobs
from sklearn_openset.metrics import (
    make_open_set_scorer,
    open_set_f1_score,
    open_set_f1_scorer,
    unknown_roc_auc_scorer,
)
from sklearn_openset.model_selection import (
    PseudoOpenSetSplit,
    TunedOpenSetThresholdCV,
)

BLOBS = {
    "n_samples": 800,
    "n_features": 4,
    "n_known_classes": 5,
    "n_unknown_classes": 3,
    "cluster_std": 2.0,
    "random_state": 0,
}


def _msp():
    return MSPClassifier(LogisticRegression())


@pytest.fixture(scope="module")
def tuned(blobs):
    X_train, _, y_train, _ = blobs
    return TunedOpenSetThresholdCV(_msp(), n_rates=21, random_state=0).fit(
        X_train, y_train
    )


def _with_threshold(model, X, threshold):
    y_pred = model.predict(X)
    y_pred[model.score_samples(X) < threshold] = model.open_label
    return y_pred


def test_chosen_rate_maximizes_the_mean_curve(tuned):
    results = tuned.cv_results_
    rates = results["rejection_rate"]
    assert_allclose(rates, np.linspace(0, 0.5, 21))
    assert tuned.n_splits_ == 5
    split_scores = np.array([results[f"split{k}_score"] for k in range(5)])
    assert_allclose(results["mean_score"], split_scores.mean(axis=0))
    assert_allclose(results["std_score"], split_scores.std(axis=0))
    best = np.argmax(results["mean_score"])
    assert tuned.best_index_ == best
    assert tuned.best_rejection_rate_ == rates[best]
    assert tuned.best_score_ == results["mean_score"].max()
    # Every array has one entry per rate, so the results fit a DataFrame.
    assert {len(values) for values in results.values()} == {21}


def test_split_thresholds_are_quantiles_of_held_out_known_scores(blobs):
    # One hand-made pseudo-open split: classes 0-2 known, 3-4 open.
    X, _, y, _ = blobs
    known_rows = np.flatnonzero(y < 3)
    train, held_out = known_rows[::2], known_rows[1::2]
    test = np.concatenate([held_out, np.flatnonzero(y >= 3)])
    tuner = TunedOpenSetThresholdCV(_msp(), cv=[(train, test)], n_rates=6).fit(X, y)
    model = clone(_msp()).set_params(threshold=None).fit(X[train], y[train])
    rates = tuner.cv_results_["rejection_rate"]
    expected = np.quantile(model.score_samples(X[held_out]), rates)
    expected[0] = -np.inf  # rate 0 is no threshold
    assert_allclose(tuner.cv_results_["split0_threshold"], expected)


def test_predict_is_own_rule_plus_threshold(blobs):
    X_train, X_test, y_train, _ = blobs
    for estimator in (_msp(), OpenMaxClassifier(estimator=LogisticRegression())):
        tuner = TunedOpenSetThresholdCV(estimator, n_rates=11, random_state=0)
        tuner.fit(X_train, y_train)
        inner = tuner.estimator_
        assert inner.threshold_ == -np.inf  # only the method's own rule
        assert np.isfinite(tuner.threshold_)
        assert_array_equal(tuner.score_samples(X_test), inner.score_samples(X_test))
        assert_array_equal(
            tuner.predict(X_test), _with_threshold(inner, X_test, tuner.threshold_)
        )
        assert_array_equal(tuner.classes_, np.unique(y_train))


def test_no_refit_per_candidate(blobs):
    X_train, _, y_train, _ = blobs
    fits = []

    class CountingMSP(MSPClassifier):
        def fit(self, X, y, **fit_params):
            fits.append(len(X))
            return super().fit(X, y, **fit_params)

    tuner = TunedOpenSetThresholdCV(
        CountingMSP(LogisticRegression()), n_rates=30, random_state=0
    ).fit(X_train, y_train)
    # One fit per split, one on all of X and one on the 80 % whose held-out
    # 20 % turn the rate into a threshold: none per candidate rate.
    assert tuner.best_rejection_rate_ > 0
    assert len(fits) == tuner.n_splits_ + 2 == 7
    assert fits[-2:] == [len(X_train), len(X_train) - math.ceil(0.2 * len(X_train))]


def test_delegated_methods(blobs):
    X_train, X_test, y_train, _ = blobs
    msp = TunedOpenSetThresholdCV(_msp(), n_rates=5, random_state=0)
    assert hasattr(msp, "predict_proba") and hasattr(msp, "decision_function")
    assert not hasattr(msp, "predict_open_proba")
    msp.fit(X_train, y_train)
    assert_array_equal(msp.predict_proba(X_test), msp.estimator_.predict_proba(X_test))
    assert_array_equal(
        msp.decision_function(X_test), msp.estimator_.decision_function(X_test)
    )
    openmax = TunedOpenSetThresholdCV(
        OpenMaxClassifier(estimator=LogisticRegression()), n_rates=5, random_state=0
    ).fit(X_train, y_train)
    assert_array_equal(
        openmax.predict_open_proba(X_test),
        openmax.estimator_.predict_open_proba(X_test),
    )
    assert msp.n_features_in_ == X_train.shape[1]


def test_in_a_pipeline_and_around_one(blobs):
    X_train, X_test, y_train, y_test = blobs
    outer = make_pipeline(
        StandardScaler(), TunedOpenSetThresholdCV(_msp(), n_rates=11, random_state=0)
    ).fit(X_train, y_train)
    assert set(outer.predict(X_test).tolist()) <= {-1, *range(5)}
    assert 0 <= open_set_f1_scorer(outer, X_test, y_test) <= 1
    # Around a pipeline: the threshold of its last step is tuned.
    inner = TunedOpenSetThresholdCV(
        make_pipeline(StandardScaler(), MSPClassifier(open_label="unknown")),
        n_rates=11,
        random_state=0,
    ).fit(X_train, y_train)
    assert inner.estimator_[-1].threshold_ == -np.inf
    assert inner.open_label == "unknown"
    y_pred = inner.predict(X_test)
    reject = inner.score_samples(X_test) < inner.threshold_
    assert np.all(y_pred[reject] == "unknown")


def test_in_grid_search(blobs):
    X_train, X_test, y_train, _ = blobs
    search = GridSearchCV(
        TunedOpenSetThresholdCV(_msp(), n_rates=11, random_state=0),
        {"estimator__estimator__C": [0.1, 1.0]},
        scoring=open_set_f1_scorer,
        cv=StratifiedKFold(2),
    ).fit(X_train, y_train)
    assert search.best_params_["estimator__estimator__C"] in (0.1, 1.0)
    assert np.isfinite(search.best_estimator_.threshold_)
    assert len(search.predict(X_test)) == len(X_test)


def test_pickle_round_trip(tuned, blobs):
    _, X_test, _, _ = blobs
    restored = pickle.loads(pickle.dumps(tuned))
    assert_array_equal(restored.predict(X_test), tuned.predict(X_test))
    assert restored.threshold_ == tuned.threshold_


def test_string_labels(blobs):
    X_train, X_test, y_train, _ = blobs
    names = np.array(["ant", "bee", "cat", "dog", "emu"])
    tuner = TunedOpenSetThresholdCV(_msp(), n_rates=11, random_state=0)
    tuner.fit(X_train, names[y_train])
    assert_array_equal(tuner.classes_, names)
    y_pred = tuner.predict(X_test)
    assert set(y_pred.tolist()) <= {-1, *names.tolist()}
    assert -1 in y_pred.tolist()  # the int open_label stays an int


def test_seeded_fit_is_reproducible(blobs):
    X_train, _, y_train, _ = blobs

    def fit(seed):
        return TunedOpenSetThresholdCV(_msp(), n_rates=11, random_state=seed).fit(
            X_train, y_train
        )

    first, second, other = fit(0), fit(0), fit(1)
    assert first.threshold_ == second.threshold_
    for key, values in first.cv_results_.items():
        assert_array_equal(values, second.cv_results_[key])
    assert not np.array_equal(
        first.cv_results_["split0_score"], other.cv_results_["split0_score"]
    )


def test_parallel_splits_give_the_same_result(tuned, blobs):
    X_train, _, y_train, _ = blobs
    with parallel_backend("threading"):
        parallel = clone(tuned).set_params(n_jobs=2).fit(X_train, y_train)
    assert parallel.threshold_ == tuned.threshold_
    assert_array_equal(
        parallel.cv_results_["mean_score"], tuned.cv_results_["mean_score"]
    )


def test_improves_on_the_default_threshold():
    # MSP's default threshold (0.5) rejects almost nothing on digits, where a
    # wrong digit is still given a confident class.
    X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
    msp = MSPClassifier(LogisticRegression(max_iter=1000))
    default = clone(msp).fit(X_train, y_train)
    no_threshold = clone(msp).set_params(threshold=None).fit(X_train, y_train)
    tuner = TunedOpenSetThresholdCV(msp, n_rates=26, random_state=0)
    tuner.fit(X_train, y_train)

    def f1(model):
        return open_set_f1_score(y_test, model.predict(X_test), labels=model.classes_)

    assert f1(tuner) > f1(default) + 0.05
    assert f1(tuner) > f1(no_threshold) + 0.15


def test_any_scorer_of_the_predictions(blobs):
    X_train, _, y_train, _ = blobs

    def fewest_rejected(estimator, X, y):
        return -np.mean(estimator.predict(X) == estimator.open_label)

    tuner = TunedOpenSetThresholdCV(
        _msp(), scoring=fewest_rejected, n_rates=5, random_state=0
    ).fit(X_train, y_train)
    # Rate 0 is no threshold: nothing rejected beyond the method's own rule.
    assert tuner.best_rejection_rate_ == 0
    assert tuner.threshold_ == -np.inf
    f1_open = make_open_set_scorer(open_set_f1_score, average="open")
    tuner.set_params(scoring=f1_open).fit(X_train, y_train)
    assert tuner.best_rejection_rate_ > 0


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_rates": 1}, "n_rates"),
        ({"n_rates": 2.5}, "n_rates"),
        ({"open_fraction": 1.0}, "open_fraction"),
        ({"open_fraction": 0}, "open_fraction"),
        ({"cv": "pseudo"}, "cv"),
        ({"cv": 7}, "cv"),
        ({"scoring": "f1_macro"}, "scoring"),
        ({"scoring": unknown_roc_auc_scorer}, "scoring"),
        ({"n_jobs": "all"}, "n_jobs"),
        ({"random_state": "seed"}, "random_state"),
        ({"estimator": LogisticRegression()}, "estimator"),
        ({"estimator": IsolationForest()}, "estimator"),
    ],
)
def test_bad_parameters_name_the_parameter(blobs, params, match):
    X_train, _, y_train, _ = blobs
    y = y_train % 3  # 3 classes: at most 3 pseudo-open splits
    tuner = TunedOpenSetThresholdCV(_msp()).set_params(**params)
    with pytest.raises(ValueError, match=match):
        tuner.fit(X_train, y)


def test_too_few_classes_for_pseudo_open_splits(blobs):
    X_train, _, y_train, _ = blobs
    with pytest.raises(ValueError, match="cv=None .* at least 3 classes"):
        TunedOpenSetThresholdCV(_msp()).fit(X_train, y_train % 2)
    # Any cv of the user's own is taken as it is.
    tuner = TunedOpenSetThresholdCV(_msp(), cv=StratifiedKFold(3), n_rates=5)
    tuner.fit(X_train, y_train % 2)
    assert tuner.n_splits_ == 3


def test_three_classes_use_every_pseudo_open_split():
    X_train, _, y_train, _ = make_open_set_blobs(random_state=0)
    tuner = TunedOpenSetThresholdCV(_msp(), n_rates=5, random_state=0)
    # 3 classes: 3 ways to choose 2 sub-known ones, fewer than the 5 default
    # splits of PseudoOpenSetSplit.
    assert tuner.fit(X_train, y_train).n_splits_ == 3
    assert tuner.set_params(cv=2).fit(X_train, y_train).n_splits_ == 2
    cv = PseudoOpenSetSplit(3, random_state=0)
    assert tuner.set_params(cv=cv).fit(X_train, y_train).n_splits_ == 3


def test_open_label_is_the_inner_estimators(blobs):
    X_train, _, y_train, _ = blobs
    tuner = TunedOpenSetThresholdCV(MSPClassifier(open_label=99))
    assert tuner.open_label == 99
    with pytest.raises(ValueError, match="open_label=0"):
        TunedOpenSetThresholdCV(MSPClassifier(open_label=0)).fit(X_train, y_train)


def test_inputs_untouched(blobs):
    X_train, _, y_train, _ = blobs
    X, y = X_train.copy(), y_train.copy()
    TunedOpenSetThresholdCV(_msp(), n_rates=5, random_state=0).fit(X, y)
    assert_array_equal(X, X_train)
    assert_array_equal(y, y_train)


def test_docstring_example_runs():
    import doctest

    from sklearn_openset.model_selection import _threshold

    result = doctest.testmod(_threshold, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def _scored_folds(X, y, **params):
    """``(classes, y)`` of every fold the tuner scores, from a recording scorer."""
    seen = []

    def recording(estimator, X, y):
        seen.append((estimator.classes_, np.asarray(y)))
        return 0.0

    TunedOpenSetThresholdCV(
        _msp(), scoring=recording, n_rates=2, random_state=0, **params
    ).fit(X, y)
    return seen


def test_unknowns_are_scored_at_the_share_of_their_class(blobs):
    X_train, _, y_train, _ = blobs
    counts = np.bincount(y_train)
    for classes, y in _scored_folds(X_train, y_train):
        known = np.isin(y, classes)
        share = known.sum() / counts[classes].sum()
        assert 0.15 < share < 0.25  # PseudoOpenSetSplit's test_size
        for c in np.setdiff1d(np.unique(y_train), classes):
            assert np.sum(y == c) == round(share * counts[c])


@pytest.mark.parametrize("open_fraction", [0.3, 0.75])
def test_open_fraction_sets_the_share_of_unknowns_scored(blobs, open_fraction):
    X_train, _, y_train, _ = blobs
    counts = np.bincount(y_train)
    for classes, y in _scored_folds(X_train, y_train, open_fraction=open_fraction):
        unknown = ~np.isin(y, classes)
        assert abs(unknown.mean() - open_fraction) < 0.02
        # Spread over the unknown classes by their sizes in y.
        others = np.setdiff1d(np.unique(y_train), classes)
        per_class = np.array([np.sum(y == c) for c in others])
        expected = unknown.sum() * counts[others] / counts[others].sum()
        assert np.all(np.abs(per_class - expected) <= 1)


def test_more_unknowns_expected_reject_more(blobs):
    X_train, _, y_train, _ = blobs
    rates = [
        TunedOpenSetThresholdCV(
            _msp(), n_rates=26, open_fraction=fraction, random_state=0
        )
        .fit(X_train, y_train)
        .best_rejection_rate_
        for fraction in (0.1, 0.9)
    ]
    assert rates[0] < rates[1]


def test_threshold_is_the_rate_quantile_of_held_out_scores(tuned, blobs):
    # The transfer rule of the Notes, redone from the same seed: a clone fitted
    # on a stratified 80 %, the rate-quantile of its scores on the other 20 %.
    from sklearn.model_selection import StratifiedShuffleSplit

    X_train, _, y_train, _ = blobs
    seeds = np.random.RandomState(0).randint(
        np.iinfo(np.int32).max, size=tuned.n_splits_ + 1
    )
    held_out_size = math.ceil(0.2 * len(X_train))
    part, held_out = next(
        StratifiedShuffleSplit(
            1, test_size=held_out_size, random_state=seeds[-1]
        ).split(X_train, y_train)
    )
    model = _msp().set_params(threshold=None).fit(X_train[part], y_train[part])
    expected = np.quantile(
        model.score_samples(X_train[held_out]), tuned.best_rejection_rate_
    )
    assert tuned.best_rejection_rate_ > 0
    assert tuned.threshold_ == pytest.approx(expected)
    # Not the quantile of the final model's own training scores.
    in_sample = np.quantile(
        tuned.estimator_.score_samples(X_train), tuned.best_rejection_rate_
    )
    assert tuned.threshold_ != pytest.approx(in_sample)
