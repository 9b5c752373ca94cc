"""LfOSASampler, the baseline strategies, the simulation and its display."""

import pickle

import matplotlib
import numpy as np
import pytest
import torch
from scipy.stats import entropy
from sklearn.base import clone
from sklearn.datasets import make_blobs

from sklearn_openset.active_learning import (
    AnnotationCurveDisplay,
    CertaintySampler,
    LfOSASampler,
    OpenSetScoreSampler,
    RandomSampler,
    SkactivemlQueryStrategy,
    UncertaintySampler,
    simulate_annotation,
)
from sklearn_openset.active_learning._lfosa import _known_posteriors

matplotlib.use("Agg")

FAST = {"max_epochs": 3, "random_state": 0}


@pytest.fixture(scope="module")
def pool():
    """Blobs of 6 classes; 0-2 known, 3-5 unknown; some labels, some invalid."""
    X, y_true = make_blobs(n_samples=600, centers=6, cluster_std=1.0, random_state=3)
    y = np.full(len(y_true), np.nan)
    seen = np.arange(60)
    y[seen] = np.where(y_true[seen] < 3, y_true[seen], -1)
    return X, y, y_true


def all_strategies():
    return [
        LfOSASampler(**FAST),
        RandomSampler(random_state=0),
        UncertaintySampler(random_state=0),
        CertaintySampler(random_state=0),
        OpenSetScoreSampler(random_state=0),
    ]


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: type(s).__name__)
def test_query_returns_unlabeled_rows_and_leaves_y_alone(strategy, pool):
    X, y, _ = pool
    X_before, y_before = X.copy(), y.copy()
    chosen = strategy.query(X, y, batch_size=15)
    assert chosen.shape == (15,)
    assert len(np.unique(chosen)) == 15
    assert np.isnan(y[chosen]).all()
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: type(s).__name__)
def test_same_random_state_same_query_and_global_state_untouched(strategy, pool):
    X, y, _ = pool
    np_state, torch_state = np.random.get_state(), torch.random.get_rng_state()
    first = strategy.query(X, y, batch_size=10)
    again = clone(strategy).query(X, y, batch_size=10)
    np.testing.assert_array_equal(first, again)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(torch.random.get_rng_state(), torch_state)


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: type(s).__name__)
def test_pickled_strategy_queries_the_same(strategy, pool):
    X, y, _ = pool
    first = strategy.query(X, y, batch_size=5)
    restored = pickle.loads(pickle.dumps(strategy))
    np.testing.assert_array_equal(restored.query(X, y, batch_size=5), first)


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: type(s).__name__)
def test_return_utilities_in_scikit_activeml_format(strategy, pool):
    X, y, _ = pool
    chosen, utilities = strategy.query(X, y, batch_size=4, return_utilities=True)
    assert utilities.shape == (4, len(X))
    labeled = ~np.isnan(y)
    assert np.isnan(utilities[:, labeled]).all()
    for step, row in enumerate(chosen):
        assert np.nanargmax(utilities[step]) == row or utilities[
            step, row
        ] == np.nanmax(utilities[step])
        assert np.isnan(utilities[step, chosen[:step]]).all()
        assert not np.isnan(utilities[step, chosen[step:]]).any()


def test_lfosa_queries_known_samples_first(pool):
    X, y, y_true = pool
    chosen = LfOSASampler(max_epochs=20, random_state=0).query(X, y, batch_size=60)
    # 3 known of 6 balanced classes: random sampling would find about half.
    assert np.mean(y_true[chosen] < 3) > 0.9


def test_lfosa_trains_with_temperature_and_invalid_set(pool):
    X, y, _ = pool
    n_known, n_invalid = int(np.sum(y >= 0)), int(np.sum(y == -1))
    sampler = LfOSASampler(temperature=2.0, **FAST)
    sampler.query(X, y)
    assert sampler.net_.criterion_.temperature == 2.0
    assert sampler.net_.module_.head.out_features == 4  # 3 known + unknown
    seen = sum(b["train_batch_size"] for b in sampler.net_.history[-1]["batches"])
    assert seen == n_known + n_invalid
    without = LfOSASampler(use_invalid=False, **FAST)
    without.query(X, y)
    seen = sum(b["train_batch_size"] for b in without.net_.history[-1]["batches"])
    assert seen == n_known
    np.testing.assert_array_equal(sampler.classes_, [0.0, 1.0, 2.0])


def test_known_posteriors_follow_the_paper():
    rng = np.random.RandomState(0)
    # Class 0: a low and a high group of maximum activations; class 1: one sample;
    # three samples predicted unknown (column 2).
    low, high = rng.normal(2, 0.1, 20), rng.normal(8, 0.1, 20)
    logits = np.zeros((44, 3))
    logits[:40, 0] = np.concatenate([low, high])
    logits[40, 1] = 5.0
    logits[41:, 2] = 9.0
    logits[41:, 0] = [1.0, 3.0, 2.0]
    logits[41:, 1] = 0.5
    utilities = _known_posteriors(logits, np.random.RandomState(0))
    assert utilities[20:40].min() > 0.99 and utilities[:20].max() < 0.01
    assert utilities[40] == 0.5
    assert (utilities[41:] < 0).all() and (utilities[41:] > -1).all()
    # Predicted unknown: ordered by the largest known-class logit.
    np.testing.assert_array_equal(np.argsort(utilities[41:]), [0, 2, 1])


def test_lfosa_on_a_pool_predicted_all_unknown():
    X = np.vstack([np.zeros((5, 2)), np.full((40, 2), 10.0)])
    X[5:, 0] += np.arange(40) * 0.01
    y = np.full(len(X), np.nan)
    y[:5] = 0
    y[5:25] = -1  # the unlabeled rest looks like the invalid set
    chosen = LfOSASampler(max_epochs=50, random_state=0).query(X, y, batch_size=3)
    assert chosen.shape == (3,)


def test_lfosa_default_network_for_images():
    rng = np.random.RandomState(0)
    X = rng.rand(30, 1, 8, 8).astype(np.float32)
    y = np.full(30, np.nan)
    y[:6] = [0, 1, 0, 1, -1, -1]
    sampler = LfOSASampler(max_epochs=1, random_state=0)
    assert sampler.query(X, y, batch_size=2).shape == (2,)
    assert type(sampler.net_.module_).__name__ == "ResNet"
    assert sampler.net_.module_.fc.out_features == 3


def test_candidates_as_indices_and_as_samples(pool):
    X, y, _ = pool
    candidates = np.arange(100, 130)
    chosen = RandomSampler(random_state=0).query(
        X, y, candidates=candidates, batch_size=5
    )
    assert np.isin(chosen, candidates).all()
    samples = X[300:320]
    chosen, utilities = LfOSASampler(**FAST).query(
        X, y, candidates=samples, batch_size=3, return_utilities=True
    )
    assert chosen.max() < 20 and utilities.shape == (3, 20)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"candidates": np.array([0, 1])}, ValueError, "already labeled"),
        ({"candidates": np.array([5000])}, ValueError, "not rows of X"),
        ({"candidates": np.array([0.5, 1.5])}, TypeError, "indices"),
        ({"candidates": np.zeros((3, 5))}, ValueError, "shape"),
        ({"batch_size": 1000}, ValueError, "candidates are left"),
        ({"batch_size": 0}, ValueError, "positive int"),
    ],
)
def test_bad_query_arguments(pool, kwargs, error, message):
    X, y, _ = pool
    with pytest.raises(error, match=message):
        LfOSASampler(**FAST).query(X, y, **kwargs)


def test_bad_labels_and_inputs(pool):
    X, y, _ = pool
    no_known = np.where(y >= 0, np.nan, y)
    for strategy in (LfOSASampler(**FAST), UncertaintySampler(), OpenSetScoreSampler()):
        with pytest.raises(ValueError, match="no known-class label"):
            strategy.query(X, no_known)
    # Random sampling needs no label at all.
    assert RandomSampler().query(X, np.full(len(X), np.nan)).shape == (1,)
    with pytest.raises(ValueError, match=r"not in classes=\[0, 1\]"):
        LfOSASampler(classes=[0, 1], **FAST).query(X, y)
    X_nan = X.copy()
    X_nan[400, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LfOSASampler(**FAST).query(X_nan, y)
    with pytest.raises(ValueError, match="different lengths"):
        RandomSampler().query(X, y[:-1])
    with pytest.raises(ValueError, match="temperature"):
        LfOSASampler(temperature=0).query(X, y)
    wrong = torch.nn.Linear(2, 3)
    with pytest.raises(ValueError, match="K\\+1 = 4 logits"):
        LfOSASampler(module=wrong, **FAST).query(X, y)


def test_classes_fix_the_detector_outputs(pool):
    X, y, _ = pool
    sampler = LfOSASampler(classes=[0, 1, 2, 7], **FAST)
    sampler.query(X, y)
    assert sampler.net_.module_.head.out_features == 5


def test_string_labels_and_other_markers():
    X, y_true = make_blobs(n_samples=200, centers=4, random_state=0)
    names = np.array(["a", "b", "c", "d"], dtype=object)[y_true]
    y = np.full(len(X), None, dtype=object)
    y[:30] = np.where(np.isin(names[:30], ["a", "b"]), names[:30], "unknown")
    sampler = LfOSASampler(missing_label=None, open_label="unknown", **FAST)
    chosen = sampler.query(X, y, batch_size=5)
    assert all(label is None for label in y[chosen])
    np.testing.assert_array_equal(sampler.classes_, ["a", "b"])


def test_uncertainty_and_certainty_utilities(pool):
    X, y, _ = pool
    sampler = UncertaintySampler(random_state=0)
    _, utilities = sampler.query(X, y, return_utilities=True)
    unlabeled = np.isnan(y)
    proba = sampler.estimator_.predict_proba(X[unlabeled])
    np.testing.assert_allclose(utilities[0, unlabeled], entropy(proba, axis=1))
    assert proba.shape[1] == 4  # the invalid samples are a class of their own

    sampler = CertaintySampler(random_state=0)
    _, utilities = sampler.query(X, y, return_utilities=True)
    proba = sampler.estimator_.predict_proba(X[unlabeled])
    np.testing.assert_allclose(utilities[0, unlabeled], proba[:, :3].max(axis=1))

    sampler = CertaintySampler(use_invalid=False, random_state=0)
    sampler.query(X, y)
    assert len(sampler.estimator_.classes_) == 3


def test_open_set_score_sampler_queries_the_most_known(pool):
    X, y, _ = pool
    sampler = OpenSetScoreSampler(random_state=0)
    _, utilities = sampler.query(X, y, return_utilities=True)
    unlabeled = np.isnan(y)
    np.testing.assert_allclose(
        utilities[0, unlabeled], sampler.estimator_.score_samples(X[unlabeled])
    )


def test_simulation_measures_the_papers_quantities(pool):
    X, _, y_true = pool
    result = simulate_annotation(
        LfOSASampler(**FAST),
        X,
        y_true,
        known_classes=[0, 1, 2],
        X_test=X[:100],
        y_test=y_true[:100],
        batch_size=30,
        n_cycles=4,
        random_state=0,
    )
    n_known = np.sum(y_true < 3)
    queried = np.concatenate(result.queried)
    assert len(np.unique(queried)) == 4 * 30
    found = np.array([np.sum(y_true[q] < 3) for q in result.queried])
    np.testing.assert_allclose(result.precision, found / 30)
    initial = result.n_labeled[0] - found[0]
    assert initial == sum(max(1, round(0.08 * 100)) for _ in range(3))
    np.testing.assert_allclose(result.recall, (initial + np.cumsum(found)) / n_known)
    np.testing.assert_array_equal(result.n_invalid, np.cumsum(30 - found))
    assert np.all((result.accuracy >= 0) & (result.accuracy <= 1))
    assert result.query_seconds.shape == (4,)


def test_simulation_progress_and_errors(pool, capsys):
    X, _, y_true = pool
    simulate_annotation(
        RandomSampler(random_state=0), X, y_true, [0, 1], n_cycles=2, verbose=1
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("cycle 2/2")
    with pytest.raises(ValueError, match="holds no label of y"):
        simulate_annotation(RandomSampler(), X, y_true, [9])
    with pytest.raises(ValueError, match="both X_test and y_test"):
        simulate_annotation(RandomSampler(), X, y_true, [0], X_test=X)
    with pytest.raises(ValueError, match="open_label=0"):
        simulate_annotation(RandomSampler(open_label=0), X, y_true, [0, 1])


def test_annotation_curve_display(pool):
    X, _, y_true = pool
    runs = {
        name: [
            simulate_annotation(
                strategy,
                X,
                y_true,
                [0, 1, 2],
                batch_size=20,
                n_cycles=3,
                random_state=s,
            )
            for s in range(2)
        ]
        for name, strategy in [
            ("random", RandomSampler(random_state=0)),
            ("certainty", CertaintySampler(random_state=0)),
        ]
    }
    display = AnnotationCurveDisplay.from_simulations(runs, metric="precision")
    assert sorted(display.lines_) == ["certainty", "random"]
    np.testing.assert_allclose(
        display.lines_["random"].get_ydata(),
        np.mean([run.precision for run in runs["random"]], axis=0),
    )
    assert display.ax_.get_ylabel() == "Precision"
    assert len(display.ax_.collections) == 2  # one band per strategy
    single = runs["random"][0].plot("recall")
    assert single.ax_.get_ylabel() == "Recall"
    with pytest.raises(ValueError, match="metric must be"):
        AnnotationCurveDisplay.from_simulations(runs, metric="f1")


def test_scikit_activeml_loop_and_tools(pool):
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.utils import call_func
    from skactiveml.visualization import plot_utilities
    from sklearn.linear_model import LogisticRegression

    X, y, y_true = pool
    y = y.copy()
    clf = SklearnClassifier(LogisticRegression(), classes=[0, 1, 2])
    qs = LfOSASampler(**FAST)
    for _ in range(2):
        # scikit-activeml's loop passes the classifier to every strategy; call_func
        # hands each one the arguments it takes.
        chosen = call_func(qs.query, X=X, y=y, clf=clf, batch_size=10)
        y[chosen] = np.where(y_true[chosen] < 3, y_true[chosen], -1)
    assert np.sum(~np.isnan(y)) == 80

    adapted = SkactivemlQueryStrategy(qs)
    np.testing.assert_array_equal(
        adapted.query(X, y, clf=clf, batch_size=3), qs.query(X, y, batch_size=3)
    )
    bound = np.array([X.min(axis=0), X.max(axis=0)])
    ax = plot_utilities(adapted, X, y, candidates=None, feature_bound=bound, res=5)
    assert ax is not None
    restored = pickle.loads(pickle.dumps(adapted))
    assert isinstance(restored.strategy, LfOSASampler)


@pytest.mark.gpu
def test_lfosa_on_cuda(pool):
    X, y, _ = pool
    sampler = LfOSASampler(device="cuda", **FAST)
    assert sampler.query(X, y, batch_size=5).shape == (5,)
    assert next(sampler.net_.module_.parameters()).is_cuda
