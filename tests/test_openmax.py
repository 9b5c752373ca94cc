from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

import sklearn_openset._openmax as openmax_module
import sklearn_openset.evt._openmax as engine_module
from sklearn_openset import OpenMaxClassifier
from sklearn_openset.datasets import make_open_set_blobs
from sklearn_openset.evt import OpenMaxRecalibration
from sklearn_openset.metrics import unknown_roc_auc_score
from sklearn_openset.nn import MLP, Classifier32

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "openmax_eucos.npz").exists(),
    reason="shared/reference is not beside the checkout",
)


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(REFERENCE / "openmax_eucos.npz"))


BLOBS = {"n_samples": 900, "n_features": 5, "random_state": 0}


# The end-to-end fixture was made with libMR and the original OpenMax
# algorithm (shared/reference/README.md); a faithful port reaches ~1e-14.
@needs_reference
@pytest.mark.parametrize(
    "distance, suffix",
    [("eucos", ""), ("euclidean", "_euclidean"), ("cosine", "_cosine")],
)
def test_matches_the_original_openmax(golden, distance, suffix):
    clf = OpenMaxClassifier("precomputed", distance=distance)
    clf.fit(golden["train_av"], golden["train_y"])
    np.testing.assert_array_equal(
        clf.n_correct_per_class_, golden["n_correct_per_class"]
    )
    np.testing.assert_allclose(clf.mean_activation_vectors_, golden["mavs"], rtol=1e-13)
    name = "eucos" if distance == "eucos" else distance
    np.testing.assert_allclose(
        clf.weibull_.libmr_params(), golden[f"weibull_params_{name}"], rtol=1e-10
    )
    test_av = golden["test_av"]
    np.testing.assert_allclose(
        clf.decision_function(test_av), golden[f"openmax_av_hat{suffix}"], atol=1e-12
    )
    proba = clf.predict_open_proba(test_av)
    np.testing.assert_allclose(proba, golden[f"openmax_proba{suffix}"], atol=1e-12)
    np.testing.assert_allclose(clf.score_samples(test_av), 1 - proba[:, -1])


@needs_reference
def test_matches_the_original_openmax_alpha3(golden):
    clf = OpenMaxClassifier("precomputed", alpha_rank=3)
    clf.fit(golden["train_av"], golden["train_y"])
    np.testing.assert_allclose(
        clf.predict_open_proba(golden["test_av"]),
        golden["openmax_proba_eucos_alpha3"],
        atol=1e-12,
    )


@needs_reference
@pytest.mark.parametrize("distance", ["euclidean", "eucos"])
def test_logsumexp_known_score_is_neal_et_al_score(golden, distance):
    # Neal et al.'s OpenMax score from libMR's W-scores of every test AV
    # against every class (golden), one sample at a time, no alpha ranking.
    clf = OpenMaxClassifier("precomputed", distance=distance, known_score="logsumexp")
    clf.fit(golden["train_av"], golden["train_y"])
    test_av, w = golden["test_av"], golden[f"test_wscore_{distance}"]
    expected = [
        np.log(np.sum(np.exp(av * (1.0 - w_row)))) for av, w_row in zip(test_av, w)
    ]
    scores = clf.score_samples(test_av)
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    one_by_one = np.concatenate([clf.score_samples(row[None]) for row in test_av])
    np.testing.assert_array_equal(scores, one_by_one)
    # Only the score changes: probabilities and predictions stay the paper's.
    paper = clone(clf).set_params(known_score="probability")
    paper.fit(golden["train_av"], golden["train_y"])
    np.testing.assert_array_equal(
        clf.predict_open_proba(test_av), paper.predict_open_proba(test_av)
    )
    np.testing.assert_array_equal(clf.predict(test_av), paper.predict(test_av))
    assert not np.allclose(scores, paper.score_samples(test_av))


@needs_reference
def test_predict_rule(golden):
    clf = OpenMaxClassifier("precomputed").fit(golden["train_av"], golden["train_y"])
    proba = golden["openmax_proba"]
    unknown_wins = proba.argmax(axis=1) == 6
    y_pred = clf.predict(golden["test_av"])
    np.testing.assert_array_equal(y_pred == -1, unknown_wins)
    np.testing.assert_array_equal(
        y_pred[~unknown_wins], proba[~unknown_wins, :6].argmax(axis=1)
    )
    # The README's sanity numbers: 38% of unknowns rejected, 8% of knowns.
    known = golden["test_y"] < 6
    assert np.mean(y_pred[~known] == -1) == pytest.approx(0.38)
    assert np.mean(y_pred[known] == -1) == pytest.approx(0.08, abs=0.005)
    # epsilon, the paper's threshold on the top probability (what threshold
    # meant before threshold became the library's threshold on score_samples).
    strict = OpenMaxClassifier("precomputed", epsilon=0.9)
    y_strict = strict.fit(golden["train_av"], golden["train_y"]).predict(
        golden["test_av"]
    )
    np.testing.assert_array_equal(
        y_strict == -1, unknown_wins | (proba.max(axis=1) < 0.9)
    )
    assert strict.threshold_ == -np.inf
    assert 0 < np.sum(y_strict == -1) - np.sum(unknown_wins)


@needs_reference
def test_scores_do_not_depend_on_the_batch(golden, monkeypatch):
    clf = OpenMaxClassifier("precomputed").fit(golden["train_av"], golden["train_y"])
    test_av = golden["test_av"]
    together = clf.predict_open_proba(test_av)
    one_by_one = np.vstack([clf.predict_open_proba(row[None]) for row in test_av])
    np.testing.assert_array_equal(together, one_by_one)
    reversed_order = clf.predict_open_proba(test_av[::-1])[::-1]
    np.testing.assert_array_equal(together, reversed_order)
    # Chunked processing gives the same numbers, in the classifier and in
    # the engine.
    monkeypatch.setattr(openmax_module, "_CHUNK_ROWS", 7)
    np.testing.assert_array_equal(clf.predict_open_proba(test_av), together)
    monkeypatch.setattr(engine_module, "_CHUNK_ROWS", 5)
    np.testing.assert_array_equal(clf.recalibration_.transform(test_av), together)
    monkeypatch.setattr(openmax_module, "_CHUNK_ROWS", 2**15)
    np.testing.assert_array_equal(clf.predict_open_proba(test_av), together)
    np.testing.assert_array_equal(
        clf.predict(test_av),
        clf.predict(test_av[:7]).tolist() + clf.predict(test_av[7:]).tolist(),
    )


def test_predict_proba_is_renormalized_known_part(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = OpenMaxClassifier(LogisticRegression(), tail_size=10).fit(X_train, y_train)
    open_proba = clf.predict_open_proba(X_test)
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(open_proba.sum(axis=1), 1)
    np.testing.assert_allclose(
        proba, open_proba[:, :-1] / (1 - open_proba[:, -1:]), rtol=1e-12
    )


def test_unknown_probability_grows_far_from_the_classes(blobs):
    X_train, X_test, y_train, y_test = blobs
    clf = OpenMaxClassifier(LogisticRegression(), tail_size=10).fit(X_train, y_train)
    assert unknown_roc_auc_score(y_test, clf.score_samples(X_test)) > 0.75
    far = X_train.mean(axis=0) + 50 * X_train.std(axis=0)
    assert clf.predict(far[None])[0] == -1


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(),
        GaussianNB(),
        make_pipeline(StandardScaler(), LogisticRegression()),
    ],
)
def test_any_sklearn_classifier(estimator):
    # Overlapping classes, so that predict_proba does not saturate at 1.0
    # (saturated probabilities give every sample the same activation vector).
    X_train, X_test, y_train, _ = make_open_set_blobs(
        n_samples=900, n_features=5, cluster_std=4.0, random_state=0
    )
    clf = OpenMaxClassifier(estimator, tail_size=10).fit(X_train, y_train)
    assert clf.predict_open_proba(X_test).shape == (len(X_test), 4)
    assert clf.estimator_ is not estimator


def test_frozen_estimator_is_used_as_given(blobs):
    X_train, X_test, y_train, _ = blobs
    # Fitted on a subset: a refit on X_train would give another model.
    inner = LogisticRegression(C=0.01).fit(X_train[:60], y_train[:60])
    coef = inner.coef_.copy()
    frozen = FrozenEstimator(inner)
    clf = OpenMaxClassifier(frozen, tail_size=10).fit(X_train, y_train)
    np.testing.assert_array_equal(inner.coef_, coef)
    assert clf.estimator_ is frozen
    refit = LogisticRegression(C=0.01).fit(X_train, y_train)
    assert not np.allclose(refit.coef_, coef)
    # The AVs are the frozen model's decision function: the same as OpenMax
    # on its precomputed activations.
    np.testing.assert_array_equal(
        clf._activation_vectors(X_test), inner.decision_function(X_test)
    )
    precomputed = OpenMaxClassifier("precomputed", tail_size=10)
    precomputed.fit(inner.decision_function(X_train), y_train)
    np.testing.assert_allclose(
        clf.score_samples(X_test),
        precomputed.score_samples(inner.decision_function(X_test)),
        rtol=1e-12,
    )
    assert not np.allclose(
        clf.score_samples(X_test),
        OpenMaxClassifier(LogisticRegression(C=0.01), tail_size=10)
        .fit(X_train, y_train)
        .score_samples(X_test),
    )
    # A frozen model equal to what fit would give scores as the unfrozen one.
    same = OpenMaxClassifier(FrozenEstimator(refit), tail_size=10).fit(X_train, y_train)
    unfrozen = OpenMaxClassifier(LogisticRegression(C=0.01), tail_size=10)
    np.testing.assert_array_equal(
        same.score_samples(X_test),
        unfrozen.fit(X_train, y_train).score_samples(X_test),
    )
    # clone keeps the frozen model (FrozenEstimator clones to itself).
    cloned = clone(clf)
    assert cloned.estimator is frozen and not hasattr(cloned, "recalibration_")
    np.testing.assert_array_equal(
        cloned.fit(X_train, y_train).predict(X_test), clf.predict(X_test)
    )
    np.testing.assert_array_equal(inner.coef_, coef)


def test_frozen_estimator_in_a_pipeline_and_a_search(blobs):
    X_train, X_test, y_train, _ = blobs
    scaler = StandardScaler().fit(X_train[:60])
    inner = LogisticRegression().fit(scaler.transform(X_train[:60]), y_train[:60])
    coef, mean = inner.coef_.copy(), scaler.mean_.copy()
    pipe = make_pipeline(
        FrozenEstimator(scaler),
        OpenMaxClassifier(FrozenEstimator(inner), tail_size=10),
    ).fit(X_train, y_train)
    np.testing.assert_array_equal(inner.coef_, coef)
    np.testing.assert_array_equal(scaler.mean_, mean)
    precomputed = OpenMaxClassifier("precomputed", tail_size=10).fit(
        inner.decision_function(scaler.transform(X_train)), y_train
    )
    np.testing.assert_allclose(
        pipe.score_samples(X_test),
        precomputed.score_samples(inner.decision_function(scaler.transform(X_test))),
        rtol=1e-12,
    )
    search = GridSearchCV(
        OpenMaxClassifier(FrozenEstimator(inner)), {"tail_size": [5, 10]}, cv=3
    ).fit(scaler.transform(X_train), y_train)
    assert search.best_params_["tail_size"] in (5, 10)
    np.testing.assert_array_equal(inner.coef_, coef)


def test_frozen_estimator_of_other_classes_is_a_clear_error(blobs):
    X_train, _, y_train, _ = blobs
    known = y_train != 0
    inner = LogisticRegression().fit(X_train[known], y_train[known])
    with pytest.raises(ValueError, match=r"estimator\.classes_ is \[1, 2\].*Frozen"):
        OpenMaxClassifier(FrozenEstimator(inner)).fit(X_train, y_train)
    # Fitted on the classes it was trained on, it works.
    OpenMaxClassifier(FrozenEstimator(inner), tail_size=10).fit(
        X_train[known], y_train[known]
    )
    with pytest.raises(NotFittedError):
        OpenMaxClassifier(FrozenEstimator(LogisticRegression())).fit(X_train, y_train)


def test_binary_decision_function(blobs):
    X_train, X_test, y_train, _ = blobs
    keep = y_train < 2
    clf = OpenMaxClassifier(LogisticRegression(), tail_size=10)
    clf.fit(X_train[keep], y_train[keep])
    av = clf._activation_vectors(X_test)
    np.testing.assert_allclose(
        av[:, 1] - av[:, 0], clf.estimator_.decision_function(X_test)
    )
    assert clf.predict_open_proba(X_test).shape == (len(X_test), 3)


def test_default_network_is_reproducible(blobs):
    X_train, X_test, y_train, _ = blobs
    params = {"max_epochs": 5, "tail_size": 10, "random_state": 3}
    first = OpenMaxClassifier(**params).fit(X_train, y_train)
    second = OpenMaxClassifier(**params).fit(X_train, y_train)
    np.testing.assert_array_equal(
        first.predict_open_proba(X_test), second.predict_open_proba(X_test)
    )
    assert first.net_ is not None and first.estimator_ is None


def test_network_on_images():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 30)
    X = rng.normal(size=(90, 1, 8, 8)).astype(np.float32) * 0.1
    X[np.arange(90), 0, y, y] += 3.0  # one bright pixel per class
    tiny_cnn = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3)
    )
    clf = OpenMaxClassifier(module=tiny_cnn, max_epochs=15, tail_size=5, lr=0.01)
    clf.fit(X, y)
    assert clf.predict(X).shape == (90,)
    with pytest.raises(ValueError, match="shape"):
        clf.predict(X[:, :, :4, :4])


def test_default_networks():
    clf = OpenMaxClassifier()
    assert isinstance(clf._default_classifier((1, 28, 28), 6)(), Classifier32)
    mlp = clf._default_classifier((20,), 6)()
    assert isinstance(mlp, MLP) and mlp.n_features == 20 and mlp.n_outputs == 6
    with pytest.raises(ValueError, match="default network"):
        clf._default_classifier((3, 4), 6)


def test_few_correct_samples_warn_and_none_is_an_error():
    X = np.array(
        [[5.0, 0.0], [4.0, 1.0], [4.5, 0.2], [0.0, 5.0], [1.0, 4.0], [0.3, 4.4]]
    )
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(UserWarning, match=r"fewer correctly classified .*\[3, 3\]"):
        OpenMaxClassifier("precomputed").fit(X, y)
    y_bad = np.array([0, 0, 0, 1, 1, 7])  # class 7 gets one sample, misclassified
    X_bad = np.vstack(
        [
            X[:5],
            [
                [
                    3.0,
                    0.0,
                ]
            ],
        ]
    )
    X_bad = np.column_stack([X_bad, np.zeros(6)])
    with pytest.raises(ValueError, match=r"none of class\(es\) \[7\]"):
        OpenMaxClassifier("precomputed").fit(X_bad, y_bad)
    X_one = np.column_stack([X[:5], np.zeros(5)])
    X_one = np.vstack([X_one, [[0.0, 0.0, 9.0]]])
    with (
        pytest.warns(UserWarning),
        pytest.raises(ValueError, match=r"Weibull fit failed .*\[7\]"),
    ):
        OpenMaxClassifier("precomputed").fit(X_one, y_bad)


def test_bad_input(blobs):
    X_train, X_test, y_train, _ = blobs
    with pytest.raises(ValueError, match="precomputed"):
        OpenMaxClassifier("precomputed").fit(X_train, y_train)
    with pytest.raises(ValueError, match="tail_size"):
        OpenMaxClassifier(LogisticRegression(), tail_size=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="distance"):
        OpenMaxClassifier(LogisticRegression(), distance="manhattan").fit(
            X_train, y_train
        )
    with pytest.raises(ValueError, match="open_label"):
        OpenMaxClassifier(LogisticRegression(), open_label=1).fit(X_train, y_train)
    clf = OpenMaxClassifier(LogisticRegression(), tail_size=10).fit(X_train, y_train)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X_test[:, :3])
    X_nan = X_test.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(X_nan)
    X_copy = X_train.copy()
    clone(clf).fit(X_train, y_train)
    np.testing.assert_array_equal(X_train, X_copy)


@pytest.mark.parametrize("metric", ["eucos", "euclidean", "cosine"])
def test_fit_distances_match_cdist(metric):
    # The fit's per-class distances (|a|^2 - 2 a.m + |m|^2, one product per
    # class) equal the cdist-based distances used at prediction.
    from sklearn_openset.evt._openmax import _av_distances, _distances_to_class_means

    rng = np.random.RandomState(0)
    counts = np.array([5, 1, 12])
    av_by_class = rng.normal(size=(counts.sum(), 4)) * 30
    ends = np.cumsum(counts)
    starts = ends - counts
    means = rng.normal(size=(3, 4)) * 30
    per_class = _distances_to_class_means(av_by_class, means, starts, ends, metric)
    assert [len(d) for d in per_class] == counts.tolist()
    for c, distances in enumerate(per_class):
        rows = av_by_class[starts[c] : ends[c]]
        expected = _av_distances(rows, means[c : c + 1], metric)[:, 0]
        np.testing.assert_allclose(distances, expected, rtol=1e-10, atol=1e-12)


# -- the recalibration engine (sklearn_openset.evt.OpenMaxRecalibration) --------
@needs_reference
@pytest.mark.parametrize("distance", ["eucos", "euclidean", "cosine"])
@pytest.mark.parametrize("known_score", ["probability", "logsumexp"])
def test_engine_gives_the_classifier_outputs_bit_for_bit(golden, distance, known_score):
    params = {"distance": distance, "alpha_rank": 4}
    clf = OpenMaxClassifier("precomputed", known_score=known_score, **params)
    clf.fit(golden["train_av"], golden["train_y"])
    engine = OpenMaxRecalibration(**params).fit(golden["train_av"], golden["train_y"])
    test_av = golden["test_av"]
    out = engine.recalibrate(test_av, known_score=known_score)
    np.testing.assert_array_equal(out.proba, clf.predict_open_proba(test_av))
    np.testing.assert_array_equal(out.logits, clf.decision_function(test_av))
    np.testing.assert_array_equal(out.known_score, clf.score_samples(test_av))
    np.testing.assert_array_equal(engine.transform(test_av), out.proba)
    np.testing.assert_array_equal(
        engine.known_score(test_av, kind=known_score), out.known_score
    )
    np.testing.assert_array_equal(engine.w_score(test_av), out.w_score)
    np.testing.assert_array_equal(engine.class_means_, clf.mean_activation_vectors_)
    np.testing.assert_array_equal(
        engine.weibull_.libmr_params(), clf.weibull_.libmr_params()
    )
    np.testing.assert_array_equal(
        engine.n_correct_per_class_, golden["n_correct_per_class"]
    )
    assert clf.recalibration_.distance_on_logits_ and engine.n_features_ == 6
    # libMR's W-scores of the original pipeline; the unknown logit is the mass
    # taken from the known ones.
    np.testing.assert_allclose(
        out.w_score, golden[f"test_wscore_{distance}"], rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        out.unknown_logit, np.sum(test_av - out.logits, axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(out.proba.sum(axis=1), 1.0)


@needs_reference
def test_engine_measures_distances_on_other_features(golden):
    # CROSR: distances on [logits, latent codes], the logits alone recalibrated.
    av, y, test_av = golden["train_av"], golden["train_y"], golden["test_av"]
    rng = np.random.default_rng(0)
    features = np.hstack([av, rng.normal(size=(len(av), 3)) + y[:, None]])
    test_features = np.hstack([test_av, rng.normal(size=(len(test_av), 3))])
    engine = OpenMaxRecalibration(alpha_rank=3).fit(av, y, features=features)
    assert not engine.distance_on_logits_ and engine.n_features_ == 9
    # Correct means correct by the logits; the means are of the features.
    correct = av.argmax(axis=1) == y
    expected_means = [features[correct & (y == c)].mean(axis=0) for c in range(6)]
    np.testing.assert_allclose(engine.class_means_, expected_means, rtol=1e-13)
    out = engine.recalibrate(test_av, test_features)
    np.testing.assert_array_equal(out.w_score, engine.w_score(test_features))
    weights = np.zeros_like(test_av)
    ranks = np.argsort(-test_av, axis=1)[:, :3]
    np.put_along_axis(weights, ranks, [1.0, 2 / 3, 1 / 3], axis=1)
    np.testing.assert_allclose(
        out.logits, test_av * (1 - weights * out.w_score), rtol=1e-12
    )
    on_logits = OpenMaxRecalibration(alpha_rank=3).fit(av, y)
    assert not np.allclose(out.proba, on_logits.transform(test_av))
    # Features that add nothing to the distances change nothing.
    plain = OpenMaxRecalibration(distance="euclidean").fit(av, y)
    padded = OpenMaxRecalibration(distance="euclidean").fit(
        av, y, features=np.hstack([av, np.zeros((len(av), 2))])
    )
    np.testing.assert_allclose(
        padded.transform(test_av, np.hstack([test_av, np.zeros((len(test_av), 2))])),
        plain.transform(test_av),
        rtol=0,
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="fitted with features"):
        engine.transform(test_av)
    with pytest.raises(ValueError, match="features=None"):
        plain.transform(test_av, test_av)
    with pytest.raises(ValueError, match="features has 4 columns"):
        engine.transform(test_av, test_features[:, :4])
    with pytest.raises(ValueError, match="rows"):
        engine.transform(test_av, test_features[:5])
    with pytest.raises(ValueError, match="rows"):
        OpenMaxRecalibration().fit(av, y, features=features[:10])
    with pytest.raises(ValueError, match="logits has 5 columns"):
        plain.transform(test_av[:, :5])


@needs_reference
def test_engine_without_rank_calibration(golden):
    # alpha_rank=None (CROSR's setting): every logit damped by its own W-score.
    av, y, test_av = golden["train_av"], golden["train_y"], golden["test_av"]
    engine = OpenMaxRecalibration(alpha_rank=None).fit(av, y)
    out = engine.recalibrate(test_av)
    np.testing.assert_allclose(out.logits, test_av * (1 - out.w_score), rtol=1e-12)
    np.testing.assert_allclose(
        out.unknown_logit, np.sum(test_av * out.w_score, axis=1), rtol=1e-12
    )
    # Not the same as the rank weights of alpha_rank = n_classes.
    ranked = OpenMaxRecalibration(alpha_rank=av.shape[1]).fit(av, y)
    assert not np.allclose(ranked.transform(test_av), out.proba)
    with pytest.raises(ValueError, match="alpha_rank"):
        OpenMaxRecalibration(alpha_rank=0).fit(av, y)


def test_engine_messages_name_the_classes():
    logits = np.zeros((7, 3))
    logits[:, :2] = [[5, 0], [4, 1], [4.5, 0.2], [0, 5], [1, 4], [0.3, 4.4], [3, 0]]
    y = np.array([0, 0, 0, 1, 1, 1, 2])  # class 2: one sample, misclassified
    with pytest.raises(ValueError, match=r"none of class\(es\) \[2\]"):
        OpenMaxRecalibration().fit(logits, y)
    with pytest.raises(ValueError, match=r"none of class\(es\) \['c'\]"):
        OpenMaxRecalibration().fit(logits, y, class_labels=["a", "b", "c"])
    logits[-1] = [0.0, 0.0, 9.0]  # one correct sample: no Weibull
    with (
        pytest.warns(UserWarning, match=r"Class\(es\) \['a', 'b', 'c'\] have fewer"),
        pytest.raises(ValueError, match=r"Weibull fit failed for class\(es\) \['c'\]"),
    ):
        OpenMaxRecalibration().fit(logits, y, class_labels=np.array(["a", "b", "c"]))


@pytest.mark.parametrize(
    "params, fit_args, error, match",
    [
        ({"alpha_rank": 0}, {}, ValueError, "alpha_rank"),
        ({"alpha_rank": 2.5}, {}, TypeError, "alpha_rank"),
        ({"tail_size": 0}, {}, ValueError, "tail_size"),
        ({"distance": "manhattan"}, {}, ValueError, "distance"),
        ({}, {"y": np.zeros(6)}, ValueError, "integer class indices"),
        ({}, {"y": np.array([0, 1, 2, 0, 1, 3])}, ValueError, r"in \[0, 2\]"),
        ({}, {"class_labels": ["a", "b"]}, ValueError, "class_labels"),
        ({}, {"logits": np.ones(6)}, ValueError, "2-D"),
        ({}, {"logits": np.full((6, 3), "a")}, TypeError, "real numbers"),
    ],
)
def test_engine_bad_input(params, fit_args, error, match):
    rng = np.random.default_rng(0)
    args = {"logits": rng.normal(size=(6, 3)), "y": np.array([0, 1, 2, 0, 1, 2])}
    args.update(fit_args)
    with pytest.raises(error, match=match):
        OpenMaxRecalibration(**params).fit(args.pop("logits"), args.pop("y"), **args)


def test_engine_not_fitted_and_bad_transform_arguments():
    from sklearn.exceptions import NotFittedError

    engine = OpenMaxRecalibration()
    with pytest.raises(NotFittedError):
        engine.transform(np.ones((2, 3)))
    assert "tail_size=20" in repr(engine)
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    engine.fit(5.0 * np.eye(3)[y] + rng.normal(size=(90, 3)), y)
    with pytest.raises(ValueError, match="known_score"):
        engine.recalibrate(np.ones((2, 3)), known_score="max")
    assert engine.transform(np.ones((0, 3))).shape == (0, 4)


# -- rejection: the library's threshold and OpenMax's own rule -----------------
@needs_reference
@pytest.mark.parametrize("known_score", ["probability", "logsumexp"])
@pytest.mark.parametrize("threshold", [None, "auto", "a number"])
@pytest.mark.parametrize("epsilon", [0.0, 0.8])
def test_predict_rejects_below_threshold_or_by_own_rule(
    golden, known_score, threshold, epsilon
):
    train_av, train_y = golden["train_av"], golden["train_y"]
    test_av = golden["test_av"]
    clf = OpenMaxClassifier("precomputed", known_score=known_score, epsilon=epsilon)
    if threshold == "a number":  # in score_samples units: here, their median
        scores = clone(clf).fit(train_av, train_y).score_samples(test_av)
        threshold = float(np.median(scores))
    clf.set_params(threshold=threshold).fit(train_av, train_y)
    scores = clf.score_samples(test_av)
    proba = clf.predict_open_proba(test_av)
    own = (proba.argmax(axis=1) == 6) | (proba.max(axis=1) < epsilon)
    below = scores < clf.threshold_
    y_pred = clf.predict(test_av)
    np.testing.assert_array_equal(y_pred == -1, below | own)
    accepted = ~(below | own)
    np.testing.assert_array_equal(y_pred[accepted], proba[accepted, :6].argmax(axis=1))
    if threshold is None:
        assert clf.threshold_ == -np.inf
    elif threshold != "auto":
        assert clf.threshold_ == threshold
        assert np.any(below & ~own)  # the threshold rejects beyond the own rule
    else:
        # 95% of the correctly classified training samples are accepted.
        train_scores = clf.score_samples(train_av)
        correct = clf.predict_proba(train_av).argmax(axis=1) == train_y
        assert clf.threshold_ == np.quantile(train_scores[correct], 1 - 0.95)
        assert np.mean(train_scores[correct] < clf.threshold_) == pytest.approx(
            0.05, abs=0.002
        )


@needs_reference
def test_defaults_predict_as_the_paper(golden):
    # threshold=None and epsilon=0: only "the unknown class wins" rejects
    # (what threshold=0.0 meant before epsilon had its own name).
    clf = OpenMaxClassifier("precomputed").fit(golden["train_av"], golden["train_y"])
    assert clf.threshold is None and clf.epsilon == 0.0
    proba = clf.predict_open_proba(golden["test_av"])
    np.testing.assert_array_equal(
        clf.predict(golden["test_av"]) == -1, proba.argmax(axis=1) == 6
    )
    # Neither threshold changes the model.
    other = clone(clf).set_params(threshold="auto", epsilon=0.9)
    other.fit(golden["train_av"], golden["train_y"])
    np.testing.assert_array_equal(other.predict_open_proba(golden["test_av"]), proba)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"threshold": np.nan}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"epsilon": np.nan}, "epsilon"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"epsilon": -0.1}, "epsilon"),
    ],
)
def test_bad_threshold_or_epsilon(blobs, params, name):
    X_train, _, y_train, _ = blobs
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        OpenMaxClassifier(LogisticRegression(), tail_size=10, **params).fit(
            X_train, y_train
        )


@pytest.mark.parametrize("check", ["check_fit2d_1feature", "check_data_not_an_array"])
def test_check_data_leave_a_class_at_one_distance(check):
    # Why OpenMax over LogisticRegression fails these two scikit-learn checks:
    # their data leave a class whose correctly classified samples are all at
    # the same distance from their mean, and no Weibull fits one value.
    if check == "check_fit2d_1feature":
        # 2 correct samples of class 2: both are at the same distance from
        # their mean.
        X = 3 * np.random.RandomState(0).uniform(size=(10, 1))
        y, label = X[:, 0].astype(int), 2
    else:
        # Class 1: 4 correct samples, on two activation vectors (-d/2, d/2)
        # twice each, symmetric about their mean.
        X = np.array(
            [[3, 0], [0, 1], [0, 2], [1, 1], [1, 2], [2, 1]]
            + [[0, 3], [1, 0], [2, 0], [4, 4], [2, 3], [3, 2]]
        )
        y, label = np.array([1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]), 1
    failed = rf"Weibull fit failed for class\(es\) \[{label}\]"
    with (
        pytest.warns(UserWarning, match="fewer correctly classified"),
        pytest.raises(ValueError, match=failed),
    ):
        OpenMaxClassifier(LogisticRegression()).fit(X, y)
    d = LogisticRegression().fit(X, y).decision_function(X)
    av = np.column_stack([-d / 2, d / 2])  # the activation vectors of OpenMax
    rows = (av.argmax(axis=1) == np.unique(y, return_inverse=True)[1]) & (y == label)
    distances = np.linalg.norm(av[rows] - av[rows].mean(axis=0), axis=1)
    np.testing.assert_allclose(distances, distances[0], rtol=1e-12)
