"""Tests of sklearn_openset.model_selection.PseudoOpenSetSplit."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.model_selection._split import BaseCrossValidator
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from sklearn_openset.datasets import select_known_classes
from sklearn_openset.model_selection import PseudoOpenSetSplit


@pytest.fixture(scope="module")
def blobs():
    # 8 classes of 30 samples, well separated, features of unit scale
    X, y = make_blobs(
        n_samples=240, centers=8, cluster_std=0.5, center_box=(-20, 20), random_state=0
    )
    return X / 10, y


@pytest.fixture
def one_thread():
    # tiny fits: BLAS threads only add overhead (and oversubscribe busy CI)
    with threadpool_limits(1):
        yield


def test_is_a_cross_validator():
    cv = PseudoOpenSetSplit(3, random_state=0)
    assert isinstance(cv, BaseCrossValidator)
    assert cv.get_n_splits() == 3
    assert " ".join(repr(cv).split()) == (
        "PseudoOpenSetSplit(n_splits=3, random_state=0, sub_known_ratio=0.5, "
        "test_size=0.2)"
    )


@pytest.mark.parametrize("ratio, n_sub_known", [(0.5, 4), (0.25, 2), (0.75, 6)])
def test_split_protocol(blobs, ratio, n_sub_known):
    X, y = blobs
    cv = PseudoOpenSetSplit(
        n_splits=5, sub_known_ratio=ratio, test_size=0.2, random_state=0
    )
    splits = list(cv.split(X, y))
    assert len(splits) == cv.get_n_splits(X, y) == 5
    subsets = set()
    for train, test in splits:
        # a partition of the samples
        assert not set(train) & set(test)
        assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
        sub_known = np.unique(y[train])
        assert len(sub_known) == n_sub_known
        subsets.add(tuple(sub_known))
        is_sub_known = np.isin(y, sub_known)
        # every sub-open sample is tested
        assert set(np.flatnonzero(~is_sub_known)) <= set(test)
        # the held-out sub-known part is stratified: 6 of 30 per class (0.2)
        held_out = test[is_sub_known[test]]
        assert_array_equal(np.bincount(y[held_out], minlength=8)[sub_known], 6)
        assert len(train) == 24 * n_sub_known
    # splits differ from each other: different class subsets
    assert len(subsets) == 5


def test_first_split_follows_the_known_class_recipe(blobs):
    X, y = blobs
    for seed in range(3):
        cv = PseudoOpenSetSplit(sub_known_ratio=0.5, random_state=seed)
        train, _ = next(iter(cv.split(X, y)))
        assert_array_equal(
            np.unique(y[train]),
            select_known_classes(y, known_ratio=0.5, random_state=seed),
        )


def test_random_state(blobs):
    X, y = blobs
    cv = PseudoOpenSetSplit(random_state=1)
    first, second = list(cv.split(X, y)), list(cv.split(X, y))
    for (tr1, te1), (tr2, te2) in zip(first, second):
        assert_array_equal(tr1, tr2)
        assert_array_equal(te1, te2)
    other = list(PseudoOpenSetSplit(random_state=2).split(X, y))
    assert any(
        len(a[0]) != len(b[0]) or np.any(a[0] != b[0]) for a, b in zip(first, other)
    )
    # a RandomState instance is consumed: the next call gives other splits
    cv = PseudoOpenSetSplit(random_state=np.random.RandomState(0))
    first, second = list(cv.split(X, y)), list(cv.split(X, y))
    assert any(
        len(a[0]) != len(b[0]) or np.any(a[0] != b[0]) for a, b in zip(first, second)
    )


def test_string_labels_and_int_test_size():
    y = np.repeat(np.array(["a", "b", "c", "d", "e", "f"]), 5)
    X = np.zeros((len(y), 2))
    cv = PseudoOpenSetSplit(
        n_splits=3, sub_known_ratio=0.5, test_size=3, random_state=0
    )
    for train, test in cv.split(X, y):
        assert len(np.unique(y[train])) == 3
        assert len(test) == 3 + 15  # 3 held out + the 3 sub-open classes


def test_n_splits_may_use_every_subset():
    # 4 classes, 2 sub-known: 6 subsets, all used once
    y = np.repeat(np.arange(4), 5)
    X = np.zeros((20, 1))
    cv = PseudoOpenSetSplit(n_splits=6, sub_known_ratio=0.5, random_state=0)
    subsets = {tuple(np.unique(y[train])) for train, _ in cv.split(X, y)}
    assert len(subsets) == 6
    with pytest.raises(ValueError, match="n_splits=7"):
        list(PseudoOpenSetSplit(n_splits=7, random_state=0).split(X, y))


@pytest.mark.parametrize("ratio", [0.1, 0.2, 0.95])
def test_sub_known_ratio_leaving_too_few_classes(blobs, ratio):
    # 8 classes: 0.1 -> 1 sub-known, 0.2 -> round(1.6) = 2 is fine, 0.95 -> 8
    X, y = blobs
    cv = PseudoOpenSetSplit(sub_known_ratio=ratio, random_state=0)
    if ratio == 0.2:
        assert len(list(cv.split(X, y))) == 5
        return
    with pytest.raises(ValueError, match="sub_known_ratio"):
        cv.split(X, y)  # checked eagerly, before iteration


@pytest.mark.parametrize(
    "params, name",
    [
        ({"test_size": 1.5}, "test_size"),
        ({"test_size": 0.0}, "test_size"),
        ({"test_size": -2}, "test_size"),
        ({"test_size": "half"}, "test_size"),
        ({"sub_known_ratio": 1.0}, "sub_known_ratio"),
        ({"sub_known_ratio": 0}, "sub_known_ratio"),
        ({"n_splits": 0}, "n_splits"),
    ],
)
def test_invalid_parameters(blobs, params, name):
    X, y = blobs
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        PseudoOpenSetSplit(**params).split(X, y)


def test_y_is_required(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="'y' parameter"):
        PseudoOpenSetSplit().split(X)


@pytest.mark.parametrize(
    "labels, singletons",
    [
        (np.array(["ant", "bee", "cat", "dog", "eel", "fox"]), "['cat', 'fox']"),
        (np.array([10, 20, 30, 40, 50, 60]), "[30, 60]"),
    ],
)
def test_classes_with_one_member_are_named_by_label(labels, singletons):
    # The message named the encoded class index ([2]), and only when the
    # class happened to be drawn as sub-known; now it names the labels, at
    # once, whatever the random_state.
    counts = [5, 5, 1, 5, 5, 1]
    y = np.repeat(labels, counts)
    X = np.zeros((len(y), 1))
    for seed in range(3):
        cv = PseudoOpenSetSplit(n_splits=1, random_state=seed)
        with pytest.raises(ValueError, match="only 1 member") as info:
            cv.split(X, y)  # eagerly, before the first split
        assert f"classes {singletons} of y" in str(info.value)
        assert "[2, 5]" not in str(info.value)


def open_set_f1(estimator, X, y, seen=None):
    """Local open-set macro-F1: labels unseen in fit count as -1."""
    y_true = np.where(np.isin(y, estimator.classes_), y, -1)
    if seen is not None:
        seen.append((len(estimator.classes_), np.sum(y_true == -1)))
    y_pred = estimator.predict(X)
    return f1_score(y_true, y_pred, average="macro", zero_division=0)


def test_grid_search_cv(blobs, one_thread):
    X, y = blobs
    seen = []
    grid = GridSearchCV(
        LogisticRegression(),
        {"C": [0.01, 1.0]},
        scoring=lambda est, X, y: open_set_f1(est, X, y, seen),
        cv=PseudoOpenSetSplit(n_splits=3, sub_known_ratio=0.5, random_state=0),
        refit=True,
    )
    grid.fit(X, y)
    assert grid.n_splits_ == 3
    for i in range(3):
        assert f"split{i}_test_score" in grid.cv_results_
    # each fold: fitted on 4 sub-known classes, tested with 4 * 30 open samples
    assert len(seen) == 2 * 3
    assert all(n_classes == 4 and n_open == 120 for n_classes, n_open in seen)
    # a closed-set classifier predicts no -1: F1 of the open class is 0, so the
    # macro-F1 over the 4 known classes + open is at most 4 / 5, and the open
    # samples predicted as known classes halve the known precision
    scores = grid.cv_results_["mean_test_score"]
    assert np.all(scores <= 0.8 + 1e-12) and np.all(scores > 0.2)
    assert grid.best_params_["C"] in (0.01, 1.0)
    assert_array_equal(grid.best_estimator_.classes_, np.arange(8))


def test_cross_validate(blobs, one_thread):
    X, y = blobs
    result = cross_validate(
        LogisticRegression(),
        X,
        y,
        cv=PseudoOpenSetSplit(n_splits=2, random_state=0),
        scoring=open_set_f1,
    )
    assert result["test_score"].shape == (2,)


# --------------------------------------------------------------------------
# Property-based: the invariants of every split


@st.composite
def split_problems(draw):
    """Labels (ints that are not 0..C-1, or strings) and splitter parameters.

    Each class has 4 to 8 samples and test_size is in [0.25, 0.75], so that
    both parts of the sub-known samples hold at least one sample per sub-known
    class and StratifiedShuffleSplit always succeeds.
    """
    n_classes = draw(st.integers(3, 7))
    if draw(st.booleans()):
        names = draw(
            st.lists(
                st.integers(-50, 50).filter(lambda v: v != -1),
                min_size=n_classes,
                max_size=n_classes,
                unique=True,
            )
        )
    else:
        names = [f"class {i}" for i in draw(st.permutations(range(n_classes)))]
    counts = draw(st.lists(st.integers(4, 8), min_size=n_classes, max_size=n_classes))
    y = np.repeat(np.array(names), counts)
    y = y[draw(st.permutations(range(len(y))))]
    n_sub_known = draw(st.integers(2, n_classes - 1))
    n_subsets = math.comb(n_classes, n_sub_known)
    # half the time enough splits for every class to be sub-open somewhere
    enough = math.comb(n_classes - 1, n_sub_known - 1) + 1
    n_splits = draw(st.integers(enough if draw(st.booleans()) else 1, n_subsets))
    params = {
        "n_splits": n_splits,
        "sub_known_ratio": n_sub_known / n_classes,
        "test_size": draw(st.floats(0.25, 0.75)),
        "random_state": draw(st.integers(0, 2**31 - 1)),
    }
    return y, n_sub_known, params


@settings(max_examples=60, deadline=None)
@given(split_problems())
def test_split_invariants(problem):
    y, n_sub_known, params = problem
    X = np.zeros((len(y), 1))
    classes = np.unique(y)
    n_classes = len(classes)
    cv = PseudoOpenSetSplit(**params)
    splits = list(cv.split(X, y))
    assert len(splits) == params["n_splits"]

    sub_open_somewhere = set()
    subsets = set()
    for train, test in splits:
        # no sample in both folds, every sample in one of them
        assert not np.intersect1d(train, test).size
        assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
        # the training fold holds only the k sub-known classes ...
        sub_known = np.unique(y[train])
        assert len(sub_known) == n_sub_known
        # ... and every sample of the other (sub-open) classes is tested
        is_sub_open = ~np.isin(y, sub_known)
        assert set(np.flatnonzero(is_sub_open)) <= set(test.tolist())
        sub_open_somewhere.update(np.unique(y[is_sub_open]).tolist())
        subsets.add(tuple(sub_known.tolist()))
    # never the same sub-known set twice
    assert len(subsets) == len(splits)
    # the docstring's promise: above comb(C-1, k-1) splits, every class is
    # sub-open in some split (there are only that many sets holding it)
    if params["n_splits"] > math.comb(n_classes - 1, n_sub_known - 1):
        assert sub_open_somewhere == set(classes.tolist())
    # deterministic for a fixed int random_state
    for (train, test), (train2, test2) in zip(splits, cv.split(X, y)):
        assert_array_equal(train, train2)
        assert_array_equal(test, test2)
