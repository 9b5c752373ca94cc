import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import config_context
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import DataConversionWarning, UnsetMetadataPassedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from sklearn_openset import MSPClassifier
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.metrics import unknown_roc_auc_score

BLOBS = {"n_samples": 600, "n_features": 4, "random_state": 0}


def test_predict_rejects_below_threshold(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = MSPClassifier(threshold=0.9).fit(X_train, y_train)
    proba = clf.predict_proba(X_test)
    y_pred = clf.predict(X_test)
    top = proba.max(axis=1)
    np.testing.assert_array_equal(y_pred == -1, top < 0.9)
    np.testing.assert_array_equal(
        y_pred[top >= 0.9], clf.classes_[proba.argmax(axis=1)][top >= 0.9]
    )
    np.testing.assert_allclose(clf.score_samples(X_test), top)
    assert clf.threshold_ == 0.9


def test_detects_unknown_digits_better_than_chance():
    X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
    clf = MSPClassifier().fit(X_train, y_train)
    # Measured 0.887 for seed 0 (sklearn-openset evaluate); chance is 0.5.
    assert unknown_roc_auc_score(y_test, clf.score_samples(X_test)) > 0.8


def test_score_counts_unseen_labels_as_open(blobs):
    X_train, X_test, y_train, y_test = blobs
    clf = MSPClassifier(threshold=0.9).fit(X_train, y_train)
    y_pred = clf.predict(X_test)
    expected = np.mean(y_pred == y_test)
    assert clf.score(X_test, y_test) == pytest.approx(expected)
    assert clf.score(X_test, np.where(y_test == -1, 42, y_test)) == pytest.approx(
        expected
    )


def test_auto_threshold_accepts_95_percent_of_correct_training(blobs):
    X_train, _, y_train, _ = blobs
    clf = MSPClassifier(threshold="auto").fit(X_train, y_train)
    proba = clf.predict_proba(X_train)
    correct = clf.classes_[proba.argmax(axis=1)] == y_train
    accepted = np.mean(proba.max(axis=1)[correct] >= clf.threshold_)
    assert 0.94 <= accepted <= 0.96


def test_string_classes_give_object_predictions(blobs):
    X_train, X_test, y_train, _ = blobs
    names = np.array(["ant", "bee", "cow"])
    clf = MSPClassifier(threshold=0.99).fit(X_train, names[y_train])
    y_pred = clf.predict(X_test)
    assert y_pred.dtype == object
    assert set(y_pred.tolist()) <= {"ant", "bee", "cow", -1}
    assert -1 in y_pred.tolist()
    clf = MSPClassifier(threshold=0.99, open_label="unknown")
    y_pred = clf.fit(X_train, names[y_train]).predict(X_test)
    assert y_pred.dtype.kind == "U"
    assert "unknown" in y_pred


def test_any_classifier_with_predict_proba(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = MSPClassifier(RandomForestClassifier(n_estimators=10, random_state=0))
    assert clf.fit(X_train, y_train).predict(X_test).shape == (X_test.shape[0],)
    assert hasattr(clf, "decision_function") is False
    clf = MSPClassifier(LogisticRegression()).fit(X_train, y_train)
    assert clf.decision_function(X_test).shape == (X_test.shape[0], 3)


def test_bad_input(blobs):
    X_train, X_test, y_train, _ = blobs
    with pytest.raises(ValueError, match="open_label=0 is also a class label"):
        MSPClassifier(open_label=0).fit(X_train, y_train)
    with pytest.raises(ValueError, match="at least 2 known classes"):
        MSPClassifier().fit(X_train, np.zeros(len(y_train), dtype=int))
    X_nan = X_train.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MSPClassifier().fit(X_nan, y_train)
    X_inf = X_train.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        MSPClassifier().fit(X_inf, y_train)
    clf = MSPClassifier().fit(X_train, y_train)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X_test[:, :2])
    with pytest.raises(ValueError, match="threshold"):
        MSPClassifier(threshold=1.5).fit(X_train, y_train)
    with pytest.raises(ValueError, match="estimator"):
        MSPClassifier(LinearSVC()).fit(X_train, y_train)


def test_frozen_estimator_is_used_as_given(blobs):
    X_train, X_test, y_train, _ = blobs
    inner = LogisticRegression(C=0.01).fit(X_train[:60], y_train[:60])
    coef = inner.coef_.copy()
    frozen = FrozenEstimator(inner)
    clf = MSPClassifier(frozen, threshold="auto").fit(X_train, y_train)
    np.testing.assert_array_equal(inner.coef_, coef)
    assert clf.estimator_ is frozen
    np.testing.assert_array_equal(
        clf.predict_proba(X_test), inner.predict_proba(X_test)
    )
    # threshold="auto" on the frozen model's probabilities of X_train.
    proba = inner.predict_proba(X_train)
    correct = proba.argmax(axis=1) == y_train
    assert clf.threshold_ == pytest.approx(
        np.quantile(proba.max(axis=1)[correct], 0.05)
    )
    refit = MSPClassifier(LogisticRegression(C=0.01), threshold="auto")
    assert refit.fit(X_train, y_train).threshold_ != clf.threshold_
    # In a pipeline, and cloned: still the frozen model.
    pipe = make_pipeline(FunctionTransformer(), clone(clf)).fit(X_train, y_train)
    np.testing.assert_array_equal(pipe.predict(X_test), clf.predict(X_test))
    np.testing.assert_array_equal(inner.coef_, coef)


def test_frozen_estimator_of_other_classes_is_a_clear_error(blobs):
    X_train, _, y_train, _ = blobs
    known = y_train != 0
    inner = LogisticRegression().fit(X_train[known], y_train[known])
    with pytest.raises(ValueError, match=r"estimator\.classes_ is \[1, 2\].*Frozen"):
        MSPClassifier(FrozenEstimator(inner)).fit(X_train, y_train)
    clf = MSPClassifier(FrozenEstimator(inner)).fit(X_train[known], y_train[known])
    np.testing.assert_array_equal(clf.classes_, [1, 2])


def test_inputs_not_modified(blobs):
    X_train, _, y_train, _ = blobs
    X_copy, y_copy = X_train.copy(), y_train.copy()
    MSPClassifier().fit(X_train, y_train).predict(X_train)
    np.testing.assert_array_equal(X_train, X_copy)
    np.testing.assert_array_equal(y_train, y_copy)


def test_clone_and_pickle(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = MSPClassifier(threshold=0.8).fit(X_train, y_train)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X_test), clf.predict(X_test))
    assert clone(clf).get_params()["threshold"] == 0.8


def test_auto_threshold_with_a_column_vector_y(blobs):
    # Regression: a column-vector y was broadcast against the predictions.
    X_train, _, y_train, _ = blobs
    with pytest.warns(DataConversionWarning):
        column = MSPClassifier(threshold="auto").fit(X_train, y_train.reshape(-1, 1))
    flat = MSPClassifier(threshold="auto").fit(X_train, y_train)
    assert column.threshold_ == flat.threshold_
    np.testing.assert_array_equal(column.predict(X_train), flat.predict(X_train))


def test_metadata_routing_sends_sample_weight_to_the_estimator(blobs):
    X_train, _, y_train, _ = blobs
    weights = np.where(y_train == y_train[0], 10.0, 1.0)
    with config_context(enable_metadata_routing=True):
        inner = LogisticRegression().set_fit_request(sample_weight=True)
        routed = MSPClassifier(inner).fit(X_train, y_train, sample_weight=weights)
        unrouted = MSPClassifier(LogisticRegression()).fit(X_train, y_train)
        with pytest.raises(UnsetMetadataPassedError):
            MSPClassifier(LogisticRegression()).fit(
                X_train, y_train, sample_weight=weights
            )
    direct = LogisticRegression().fit(X_train, y_train, sample_weight=weights)
    np.testing.assert_allclose(routed.estimator_.coef_, direct.coef_)
    assert not np.allclose(unrouted.estimator_.coef_, direct.coef_)


@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 4),
    labels=st.sampled_from(["int", "str", "bool"]),
    threshold=st.one_of(st.none(), st.floats(0, 1), st.just("auto")),
    seed=st.integers(0, 2**16),
)
def test_predict_is_always_a_class_or_the_open_label(
    n_classes, labels, threshold, seed
):
    if labels == "bool":
        n_classes = 2
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(40, 3))
    codes = np.r_[np.arange(n_classes), rng.randint(n_classes, size=40 - n_classes)]
    names = {
        "int": np.arange(n_classes) * 7,
        "str": np.array([f"c{i}" for i in range(n_classes)]),
        "bool": np.array([False, True]),
    }[labels]
    clf = MSPClassifier(threshold=threshold).fit(X, names[codes])
    X_new = rng.normal(scale=3, size=(30, 3))
    y_pred = clf.predict(X_new)
    assert set(y_pred.tolist()) <= set(names.tolist()) | {-1}
    rejected = y_pred == -1
    if labels == "bool":
        # -1 and the classes stay apart: object dtype, never -1 == True.
        rejected = np.array([p is not True and p is not False for p in y_pred.tolist()])
    np.testing.assert_array_equal(rejected, clf.score_samples(X_new) < clf.threshold_)
