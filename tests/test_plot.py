"""The displays of sklearn_openset.metrics (Agg backend)."""

import matplotlib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_openset import MSPClassifier
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.metrics import (
    OpenSetF1Display,
    ScoreDistributionDisplay,
    UnknownRocCurveDisplay,
    open_set_f1_score,
    unknown_roc_auc_score,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def fitted():
    X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
    clf = MSPClassifier(LogisticRegression(max_iter=500)).fit(X_train, y_train)
    return clf, X_test, y_test


def test_score_distribution_splits_known_and_unknown(fitted):
    clf, X_test, y_test = fitted
    display = ScoreDistributionDisplay.from_estimator(clf, X_test, y_test, bins=10)
    scores = clf.score_samples(X_test)
    np.testing.assert_array_equal(display.known_scores, scores[y_test != -1])
    np.testing.assert_array_equal(display.unknown_scores, scores[y_test == -1])
    assert display.threshold_line_.get_xdata()[0] == clf.threshold_
    assert display.ax_.get_title() == "MSPClassifier"
    heights = [sum(p.get_height() for p in c) for c in display.ax_.containers]
    assert heights == [np.sum(y_test != -1), np.sum(y_test == -1)]


def test_score_distribution_from_predictions_labels_and_no_threshold():
    y = np.array(["a", "b", "zebra", "a"], dtype=object)
    display = ScoreDistributionDisplay.from_predictions(
        y, [0.9, 0.8, 0.1, 0.7], labels=["a", "b"]
    )
    np.testing.assert_array_equal(display.unknown_scores, [0.1])
    assert display.threshold_line_ is None
    with pytest.raises(ValueError, match="different|inconsistent"):
        ScoreDistributionDisplay.from_predictions([0, 1], [0.5])


def test_unknown_roc_is_the_unknown_auroc_in_a_pipeline(fitted):
    clf, X_test, y_test = fitted
    X_train, _, y_train, _ = load_digits_open_set(random_state=0)
    pipe = make_pipeline(StandardScaler(), MSPClassifier()).fit(X_train, y_train)
    display = UnknownRocCurveDisplay.from_estimator(pipe, X_test, y_test)
    expected = unknown_roc_auc_score(y_test, pipe.score_samples(X_test))
    assert display.roc_auc == pytest.approx(expected)
    assert isinstance(display, UnknownRocCurveDisplay)
    assert "MSPClassifier" in display.line_.get_label()
    other = UnknownRocCurveDisplay.from_predictions(
        y_test, clf.score_samples(X_test), plot_chance_level=True
    )
    assert other.chance_level_ is not None


def test_f1_bars_average_to_the_macro_f1(fitted):
    clf, X_test, y_test = fitted
    display = OpenSetF1Display.from_estimator(clf, X_test, y_test)
    y_pred = clf.predict(X_test)
    assert len(display.bars_) == len(clf.classes_) + 1
    assert np.mean(display.f1) == pytest.approx(
        open_set_f1_score(y_test, y_pred, labels=clf.classes_)
    )
    assert display.f1[-1] == pytest.approx(
        open_set_f1_score(y_test, y_pred, labels=clf.classes_, average="open")
    )
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert ticks[-1] == "open (-1)"
