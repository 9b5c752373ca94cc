import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_openset import MSPClassifier
from sklearn_openset.metrics import (
    closed_set_accuracy_score,
    closed_set_accuracy_scorer,
    make_open_set_scorer,
    open_set_accuracy_score,
    open_set_accuracy_scorer,
    open_set_f1_score,
    open_set_f1_scorer,
    unknown_roc_auc_score,
    unknown_roc_auc_scorer,
)
from sklearn_openset.model_selection import PseudoOpenSetSplit
from sklearn_openset.utils import labels_with_open, open_set_label_dtype

# A hand-worked confusion matrix over known classes 0, 1, 2 and open (-1):
#            pred 0  pred 1  pred 2  pred open
# true 0        2       1       0       0
# true 1        0       1       0       1
# true 2        1       0       2       0
# true open     0       0       1       3
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, -1, -1, -1, -1])
Y_PRED = np.array([0, 0, 1, 1, -1, 2, 2, 0, -1, -1, 2, -1])
# Per class F1 = 2TP / (2TP + FP + FN):
F1_0 = 2 * 2 / (2 * 2 + 1 + 1)  # 2/3
F1_1 = 2 * 1 / (2 * 1 + 1 + 1)  # 1/2
F1_2 = 2 * 2 / (2 * 2 + 1 + 1)  # 2/3
F1_OPEN = 2 * 3 / (2 * 3 + 1 + 1)  # 3/4


def test_f1_hand_worked():
    assert open_set_f1_score(Y_TRUE, Y_PRED) == pytest.approx(
        (F1_0 + F1_1 + F1_2 + F1_OPEN) / 4
    )
    assert open_set_f1_score(Y_TRUE, Y_PRED, average="known") == pytest.approx(
        (F1_0 + F1_1 + F1_2) / 3
    )
    assert open_set_f1_score(Y_TRUE, Y_PRED, average="open") == pytest.approx(F1_OPEN)


def test_accuracy_hand_worked():
    assert open_set_accuracy_score(Y_TRUE, Y_PRED) == pytest.approx(8 / 12)


def test_labels_not_known_count_as_open():
    # True labels 7 and 8 are classes the model never saw: they are open.
    y_true = np.where(Y_TRUE == -1, [7, 8, 7, 8] * 3, Y_TRUE)
    assert open_set_f1_score(y_true, Y_PRED, labels=[0, 1, 2]) == pytest.approx(
        open_set_f1_score(Y_TRUE, Y_PRED)
    )
    assert open_set_accuracy_score(y_true, Y_PRED, labels=[0, 1, 2]) == 8 / 12


def test_string_labels_with_int_open_label():
    names = np.array(["cat", "dog", "eel"])
    y_true = names[Y_TRUE].astype(object)
    y_true[Y_TRUE == -1] = -1
    y_pred = names[Y_PRED].astype(object)
    y_pred[Y_PRED == -1] = -1
    assert open_set_f1_score(y_true, y_pred) == pytest.approx(
        open_set_f1_score(Y_TRUE, Y_PRED)
    )
    assert open_set_f1_score(
        y_true, y_pred, labels=["cat", "dog", "eel"]
    ) == pytest.approx(open_set_f1_score(Y_TRUE, Y_PRED))


def test_string_open_label():
    y_true = np.array(["a", "b", "unknown", "unknown"])
    y_pred = np.array(["a", "unknown", "unknown", "b"])
    # a: F1 1; b: TP 0 -> 0; open: TP 1, FP 1, FN 1 -> 1/2
    assert open_set_f1_score(y_true, y_pred, open_label="unknown") == pytest.approx(
        (1 + 0 + 0.5) / 3
    )


def test_class_absent_everywhere_scores_zero():
    # Known class 2 never appears: it contributes an F1 of 0 to the macro mean.
    score = open_set_f1_score([0, 1, -1], [0, 1, -1], labels=[0, 1, 2])
    assert score == pytest.approx(3 / 4)


def test_open_label_in_labels_is_the_open_class():
    # labels=np.unique(y_true) holds open_label: it is dropped, not a known class
    # that would add a fourth, wrong F1 to the mean (it gave 0.75).
    assert open_set_f1_score([0, 1, -1], [0, 1, -1], labels=[-1, 0, 1]) == 1.0
    assert open_set_f1_score(Y_TRUE, Y_PRED, labels=np.unique(Y_TRUE)) == (
        pytest.approx(open_set_f1_score(Y_TRUE, Y_PRED, labels=[0, 1, 2]))
    )
    assert open_set_f1_score(
        ["a", "unknown"], ["a", "a"], labels=["unknown", "a"], open_label="unknown"
    ) == pytest.approx((2 / 3 + 0) / 2)
    assert open_set_accuracy_score([0, 1, -1], [0, -1, -1], labels=[-1, 0, 1]) == (
        pytest.approx(2 / 3)
    )
    assert unknown_roc_auc_score(
        [0, -1], [0.9, 0.1], labels=[-1, 0]
    ) == unknown_roc_auc_score([0, -1], [0.9, 0.1], labels=[0])
    with pytest.raises(ValueError, match="labels holds only open_label=-1"):
        open_set_f1_score([0, 1, -1], [0, 1, -1], labels=[-1])


def test_duplicate_labels_count_once():
    assert open_set_f1_score(Y_TRUE, Y_PRED, labels=[0, 1, 2, 2, 0]) == (
        pytest.approx(open_set_f1_score(Y_TRUE, Y_PRED))
    )


@pytest.mark.parametrize(
    "metric",
    [open_set_f1_score, open_set_accuracy_score, closed_set_accuracy_score],
)
@pytest.mark.parametrize(
    "y_true, y_pred, labels, culprits",
    [
        (["0", "1", "-1"], [0, 1, -1], None, "y_true holds strings; y_pred holds"),
        ([0, 1, -1], [0, 1, -1], ["0", "1"], "labels holds strings"),
        (["a", 1, -1], ["a", "a", -1], None, "y_true holds strings and numbers"),
        (np.array(["a", "b"]), np.array([0, 1]), None, "y_pred holds numbers"),
    ],
)
def test_mixed_label_types_raise(metric, y_true, y_pred, labels, culprits):
    # As sklearn.metrics does: "0" and 0 never silently become two classes
    # (open_set_f1_score(["0", "1", "-1"], [0, 1, -1]) was 0.0).
    with pytest.raises(ValueError, match="Mix of label input types") as info:
        metric(y_true, y_pred, labels=labels)
    assert culprits in str(info.value)


def test_mixed_label_types_raise_in_unknown_roc_auc_score():
    with pytest.raises(ValueError, match="Mix of label input types.*labels holds"):
        unknown_roc_auc_score(["a", "b", -1], [0.1, 0.2, 0.3], labels=[0, 1])


def test_open_label_of_another_type_is_not_a_mix():
    # String classes with the int open_label the estimators predict, and the
    # other way round.
    assert open_set_f1_score(["a", -1, "b"], ["a", -1, -1]) == pytest.approx(
        open_set_f1_score([0, -1, 1], [0, -1, -1])
    )
    assert open_set_f1_score(
        [0, "unknown", 1], [0, "unknown", "unknown"], open_label="unknown"
    ) == pytest.approx(open_set_f1_score([0, -1, 1], [0, -1, -1]))
    assert unknown_roc_auc_score(["a", -1], [0.9, 0.1]) == 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: unknown_roc_auc_score([-1, -1], [0.1, 0.2]),
            "y_true holds no sample of a known class (every label is open_label=-1)",
        ),
        (
            lambda: unknown_roc_auc_score([7, 8], [0.1, 0.2], labels=[0]),
            "y_true holds no sample of a known class (every label is "
            "open_label=-1 or a label not in labels)",
        ),
        (
            lambda: unknown_roc_auc_score([0, 1], [0.1, 0.2]),
            "y_true holds no unknown sample",
        ),
        (
            lambda: unknown_roc_auc_score([], []),
            "y_true and known_scores are empty",
        ),
        (lambda: open_set_f1_score([], []), "y_true and y_pred are empty"),
        (
            lambda: open_set_accuracy_score([], [], labels=[0, 1]),
            "y_true and y_pred are empty",
        ),
        (
            lambda: open_set_f1_score([-1, -1], [-1, -1]),
            "y_true and y_pred hold only open_label=-1",
        ),
    ],
)
def test_error_messages_name_the_arguments_and_the_problem(call, message):
    # unknown_roc_auc_score has no y_pred; empty input is not "only open_label".
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


@pytest.mark.parametrize("y_true", [[-1, -1], [0, 1], [], ["a", -1, 3]])
def test_unknown_roc_auc_score_messages_never_name_y_pred(y_true):
    with pytest.raises(ValueError) as info:
        unknown_roc_auc_score(y_true, np.linspace(0, 1, len(y_true)))
    assert "y_pred" not in str(info.value)


def test_closed_set_accuracy_ignores_unknown_samples():
    y_closed = np.array([0, 0, 1, 1, 0, 2, 2, 0, 0, 1, 2, 0])
    # Known rows 0..7: right at 0, 1, 3, 5, 6 -> 5 / 8.
    assert closed_set_accuracy_score(Y_TRUE, y_closed) == pytest.approx(5 / 8)


def test_unknown_roc_auc_hand_worked():
    y_true = [0, 1, 2, -1, -1]
    known_scores = [0.9, 0.4, 0.8, 0.5, 0.1]
    # Unknown scores -known: pairs (unknown, known) ranked right: 0.5 beats 0.9? no
    # -0.5 > -0.9 yes, > -0.4 no, > -0.8 yes; -0.1 beats all three -> 5 / 6.
    assert unknown_roc_auc_score(y_true, known_scores) == pytest.approx(5 / 6)


def test_metric_errors():
    with pytest.raises(ValueError, match="both known and unknown"):
        unknown_roc_auc_score([0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        unknown_roc_auc_score([0, -1], [np.nan, 0.2])
    with pytest.raises(ValueError):
        open_set_f1_score([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="average"):
        open_set_f1_score([0, 1], [0, 1], average="micro")
    with pytest.raises(ValueError, match="no sample of a known class"):
        closed_set_accuracy_score([-1, -1], [0, 1])


def test_inputs_not_modified():
    y_true, y_pred = Y_TRUE.copy(), Y_PRED.copy()
    open_set_f1_score(y_true, y_pred)
    open_set_accuracy_score(y_true, y_pred)
    np.testing.assert_array_equal(y_true, Y_TRUE)
    np.testing.assert_array_equal(y_pred, Y_PRED)


BLOBS = dict(n_samples=600, n_features=4, random_state=0)


def test_scorers_use_classes_of_the_estimator(blobs):
    X_train, X_test, y_train, y_test = blobs
    clf = MSPClassifier(threshold=0.9).fit(X_train, y_train)
    # Relabel the open test samples as a class the estimator never saw.
    y_other = np.where(y_test == -1, 99, y_test)
    y_pred = clf.predict(X_test)
    assert open_set_f1_scorer(clf, X_test, y_other) == pytest.approx(
        open_set_f1_score(y_test, y_pred)
    )
    assert open_set_accuracy_scorer(clf, X_test, y_other) == pytest.approx(
        clf.score(X_test, y_other)
    )
    assert unknown_roc_auc_scorer(clf, X_test, y_other) == pytest.approx(
        unknown_roc_auc_score(y_test, clf.score_samples(X_test))
    )
    closed = clf.classes_[clf.predict_proba(X_test).argmax(axis=1)]
    assert closed_set_accuracy_scorer(clf, X_test, y_test) == pytest.approx(
        closed_set_accuracy_score(y_test, closed)
    )
    f1_open = make_open_set_scorer(open_set_f1_score, average="open")
    assert f1_open(clf, X_test, y_test) == pytest.approx(
        open_set_f1_score(y_test, y_pred, average="open")
    )


def test_scorer_reads_open_label_inside_a_pipeline(blobs):
    X_train, X_test, y_train, y_test = blobs
    pipe = make_pipeline(
        StandardScaler(), MSPClassifier(threshold=0.999, open_label=-7)
    )
    pipe.fit(X_train, y_train)
    y_test7 = np.where(y_test == -1, -7, y_test)
    assert (pipe.predict(X_test) == -7).any()
    assert open_set_f1_scorer(pipe, X_test, y_test7) == pytest.approx(
        open_set_f1_score(y_test7, pipe.predict(X_test), open_label=-7)
    )


def test_make_open_set_scorer_errors():
    with pytest.raises(ValueError, match="response_method"):
        make_open_set_scorer(open_set_f1_score, response_method="predict_log_proba")
    with pytest.raises(TypeError, match="callable"):
        make_open_set_scorer("f1")


@pytest.mark.parametrize(
    "scorer",
    [
        open_set_f1_scorer,
        open_set_accuracy_scorer,
        unknown_roc_auc_scorer,
        closed_set_accuracy_scorer,
    ],
)
def test_scorers_refuse_mixed_label_types(blobs, scorer):
    # y of strings for an estimator fitted on ints: every sample would count
    # as unknown without a word.
    X_train, X_test, y_train, y_test = blobs
    clf = MSPClassifier(threshold=0.9).fit(X_train, y_train)
    with pytest.raises(
        ValueError,
        match=r"Mix of label input types.*y holds strings; estimator.classes_ holds",
    ):
        scorer(clf, X_test, y_test.astype(str))


def test_msp_bool_labels_predict_bools_and_open_label(blobs):
    # Boolean classes: predictions are True / False / -1 (object dtype), not
    # the int64 1 / 0 / -1 that np.result_type(bool, int) gives.
    X_train, X_test, y_train, y_test = blobs
    keep = y_train != 2
    y_bool = y_train[keep] == 1
    clf = MSPClassifier(threshold=0.9).fit(X_train[keep], y_bool)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    y_pred = clf.predict(X_test)
    assert y_pred.dtype == object
    assert {type(label) for label in y_pred[y_pred != -1]} == {bool}
    assert (y_pred == -1).any() and set(y_pred.tolist()) == {False, True, -1}
    # the scores accept them, y_true of bools and -1 for the other classes
    y_true = np.array([bool(v) if v in (0, 1) else -1 for v in y_test], dtype=object)
    assert clf.score(X_test, y_true) == pytest.approx(
        open_set_accuracy_score(y_true, y_pred)
    )
    assert open_set_f1_scorer(clf, X_test, y_true) == pytest.approx(
        open_set_f1_score(y_true, y_pred)
    )


@pytest.mark.parametrize(
    "classes, open_label, dtype",
    [
        (np.array([False, True]), -1, object),
        (np.array([False, True]), "unknown", object),
        (np.array([0, 1]), True, object),
        (np.array([0, 1], dtype=np.uint8), -1, np.int64),
        (np.array([0.5, 1.5]), -1, np.float64),
        (np.array(["a", "b"]), "unknown", np.dtype("<U7")),
        (np.array(["a", "b"]), -1, object),
    ],
)
def test_open_set_label_dtype(classes, open_label, dtype):
    assert open_set_label_dtype(classes, open_label) == dtype
    y_pred = labels_with_open(classes, [0, 1, 0], [False, False, True], open_label)
    assert y_pred.tolist() == [classes[0], classes[1], open_label]


def test_grid_search_with_pseudo_open_split_end_to_end(blobs):
    X_train, X_test, y_train, y_test = blobs
    X = np.vstack([X_train, X_train[::-1] + 0.1])
    y = np.concatenate([y_train, y_train[::-1]])
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MSPClassifier(LogisticRegression())),
        {"mspclassifier__threshold": [0.2, 0.6, 0.95]},
        scoring={"f1": open_set_f1_scorer, "auroc": unknown_roc_auc_scorer},
        refit="f1",
        cv=PseudoOpenSetSplit(n_splits=3, sub_known_ratio=0.67, random_state=0),
    )
    # 3 known classes -> 2 sub-known and 1 sub-open class per split.
    search.fit(X, y)
    results = search.cv_results_
    assert np.all(np.isfinite(results["mean_test_f1"]))
    assert np.all(np.isfinite(results["mean_test_auroc"]))
    # The threshold changes predictions, not the ranking: AUROC is the same.
    np.testing.assert_allclose(
        results["mean_test_auroc"], results["mean_test_auroc"][0]
    )
    # With a threshold of 0.2 nothing is ever rejected, so F1-open is 0 and the
    # macro-F1 is lower than with a useful threshold.
    assert results["mean_test_f1"][0] < results["mean_test_f1"].max()
    assert search.best_params_["mspclassifier__threshold"] > 0.2
    assert search.score(X_test, y_test) == pytest.approx(
        open_set_f1_score(y_test, search.predict(X_test))
    )


def test_cross_validate_with_scorers(blobs):
    X_train, _, y_train, _ = blobs
    scores = cross_validate(
        MSPClassifier(threshold=0.9),
        X_train,
        y_train,
        cv=PseudoOpenSetSplit(n_splits=2, sub_known_ratio=0.67, random_state=1),
        scoring={"acc": open_set_accuracy_scorer, "f1": open_set_f1_scorer},
    )
    assert scores["test_acc"].shape == (2,)
    assert np.all((scores["test_f1"] > 0) & (scores["test_f1"] <= 1))


# --------------------------------------------------------------------------
# Property-based: the metrics against a hand computation with sklearn.metrics

# kind -> (known-class pool, labels of classes never known, open_label)
LABEL_KINDS = {
    "int": ([0, 1, 2, 3], [7, 8], -1),
    "str": (["ant", "bee", "cat", "dog"], ["fox"], "unknown"),
    "str, int open_label": (["ant", "bee", "cat", "dog"], ["fox"], -1),
    "bool": ([False, True], [], -1),
}


@st.composite
def open_set_labels(draw):
    """y_true, y_pred, labels and open_label of one label kind.

    Known classes may be missing from y_true or y_pred (or both); labels is
    None (inferred) or a subset of the pool, so that labels seen in the arrays
    may be unknown classes, and may hold open_label (which stays open).
    """
    pool, others, open_label = LABEL_KINDS[draw(st.sampled_from(list(LABEL_KINDS)))]
    values = st.sampled_from([*pool, *others, open_label])
    n_samples = draw(st.integers(1, 25))
    y_true = draw(st.lists(values, min_size=n_samples, max_size=n_samples))
    y_pred = draw(st.lists(values, min_size=n_samples, max_size=n_samples))
    labels = draw(
        st.none()
        | st.lists(st.sampled_from([*pool, open_label]), min_size=1, unique=True)
    )
    as_array = draw(st.booleans())  # numpy arrays (typed where they can be)
    if as_array:
        y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
        if all(isinstance(v, type(y_true[0])) for v in [*y_true, *y_pred]):
            y_true, y_pred = np.asarray(y_true.tolist()), np.asarray(y_pred.tolist())
    return y_true, y_pred, labels, open_label


def reference_codes(y_true, y_pred, labels, open_label):
    """The open-set relabelling by hand: known class i -> "k{i}", else "open"."""
    y_true, y_pred = list(y_true), list(y_pred)
    if labels is None:
        seen = {v for v in y_true + y_pred if not same_label(v, open_label)}
        labels = sorted(seen)
    known = [v for v in labels if not same_label(v, open_label)]

    def code(v):
        for i, k in enumerate(known):
            if same_label(v, k):
                return f"k{i}"
        return "open"

    return [code(v) for v in y_true], [code(v) for v in y_pred], len(known)


def same_label(a, b):
    return isinstance(a, str) == isinstance(b, str) and a == b


@settings(max_examples=100, deadline=None)
@given(open_set_labels())
def test_metrics_match_sklearn_on_relabelled_arrays(data):
    y_true, y_pred, labels, open_label = data
    true_codes, pred_codes, n_known = reference_codes(y_true, y_pred, labels, open_label)
    kwargs = {"labels": labels, "open_label": open_label}
    if n_known == 0:  # only open_label in labels, or seen with labels=None
        with pytest.raises(ValueError, match="only open_label"):
            open_set_f1_score(y_true, y_pred, **kwargs)
        return
    per_class = f1_score(
        true_codes,
        pred_codes,
        labels=[f"k{i}" for i in range(n_known)] + ["open"],
        average=None,
        zero_division=0,
    )
    assert open_set_f1_score(y_true, y_pred, **kwargs) == pytest.approx(
        np.mean(per_class)
    )
    assert open_set_f1_score(y_true, y_pred, average="known", **kwargs) == (
        pytest.approx(np.mean(per_class[:n_known]))
    )
    assert open_set_f1_score(y_true, y_pred, average="open", **kwargs) == (
        pytest.approx(per_class[-1])
    )
    assert open_set_accuracy_score(y_true, y_pred, **kwargs) == pytest.approx(
        accuracy_score(true_codes, pred_codes)
    )
