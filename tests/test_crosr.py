"""Tests of CROSRClassifier and its DHRNets: the equations, the detectors, inputs."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM
from torch import nn

from sklearn_openset import CROSRClassifier
from sklearn_openset.evaluation import ESTIMATORS
from sklearn_openset.metrics import unknown_roc_auc_score
from sklearn_openset.nn import DHRNet, DHRNetLoss, VectorDHRNet

BLOBS = {"n_samples": 500, "n_features": 6, "random_state": 0}
FAST = {"max_epochs": 8, "tail_size": 10, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(blobs):
    X_train, _, y_train, _ = blobs
    # threshold=None: the paper's decision, OpenMax's own rule alone.
    return CROSRClassifier(**FAST, threshold=None).fit(X_train, y_train)


# -- the networks -----------------------------------------------------------------
def test_dhrnet_shapes_and_classify_skips_the_decoder():
    torch.manual_seed(0)
    net = DHRNet(n_outputs=10).eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        logits, latent, reconstruction = net(x)
        logits2, latent2 = net.classify(x)
    assert logits.shape == (3, 10) and reconstruction.shape == x.shape
    assert latent.shape == (3, net.latent_dim) == (3, 96)
    torch.testing.assert_close(logits, logits2)
    torch.testing.assert_close(latent, latent2)
    # The pooled latent is the global max of each stage's code, stage after stage.
    with torch.no_grad():
        _, codes = net.encode(x)
    assert [tuple(z.shape[1:]) for z in codes] == [(32, 14, 14), (32, 7, 7), (32, 7, 7)]
    torch.testing.assert_close(latent[:, 32:64], codes[1].amax(dim=(2, 3)))


def test_dhrnet_decoder_is_top_down_sum_of_reprojections():
    torch.manual_seed(0)
    net = VectorDHRNet(n_features=5, n_outputs=3, hidden_layer_sizes=(8, 6)).eval()
    x = torch.randn(4, 5)
    with torch.no_grad():
        _, codes = net.encode(x)
        top = net.decoders[1](net.reprojections[1](codes[1]))
        expected = net.decoders[0](top + net.reprojections[0](codes[0]))
        torch.testing.assert_close(net(x)[2], expected)
    assert net.latent_dim == 64


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: DHRNet(3, image_size=30), "divisible by 4"),
        (lambda: DHRNet(3, latent_channels=0), "latent_channels"),
        (lambda: VectorDHRNet(4, 3, latent_dim=0), "latent_dim"),
        (lambda: VectorDHRNet(4, 3, hidden_layer_sizes=()), "at least one stage"),
        (lambda: DHRNet(3, dropout=1.0), "dropout"),
        (lambda: DHRNetLoss(reconstruction_weight=-1), "reconstruction_weight"),
    ],
)
def test_network_bad_parameters(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_dhrnet_refuses_other_image_sizes():
    net = DHRNet(3, image_size=8)
    with pytest.raises(ValueError, match=r"\(n_samples, 1, 8, 8\)"):
        net(torch.rand(2, 1, 12, 12))


def test_loss_is_weighted_cross_entropy_plus_mse():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([0, 0])
    x, reconstruction = torch.zeros(2, 3), torch.ones(2, 3)
    total, ce, mse = DHRNetLoss(0.5, 2.0)(
        logits, reconstruction, target, x, return_terms=True
    )
    expected_ce = -(torch.log_softmax(logits, 1)[[0, 1], [0, 0]]).mean()
    torch.testing.assert_close(ce, expected_ce)
    torch.testing.assert_close(mse, torch.tensor(1.0))
    torch.testing.assert_close(total, 0.5 * expected_ce + 2.0)
    with pytest.raises(ValueError, match="rebuild the input"):
        DHRNetLoss()(logits, reconstruction[:, :2], target, x)


# -- the estimator ----------------------------------------------------------------
def test_openmax_on_logits_and_latent_codes(blobs, fitted):
    X_train, X_test, y_train, _ = blobs
    clf = fitted
    logits, latent = clf._logits_and_latent(X_test.astype(np.float32))
    engine = clf.recalibration_
    assert engine.n_features_ == 3 + clf.latent_dim_ == 3 + 64
    assert engine.alpha_rank is None and engine.distance == "euclidean"
    assert clf.alpha_rank_ is None  # "auto" with 3 classes: no rank calibration
    out = engine.recalibrate(logits, np.hstack([logits, latent]))
    np.testing.assert_allclose(clf.predict_open_proba(X_test), out.proba, rtol=1e-12)
    # No rank calibration: each logit damped by its own W-score.
    np.testing.assert_allclose(out.logits, logits * (1 - out.w_score), rtol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X_test), out.logits, rtol=1e-12)
    np.testing.assert_allclose(clf.score_samples(X_test), 1 - out.proba[:, -1])
    # The class means are those of [y, z] over correctly classified samples.
    train_logits, train_latent = clf._logits_and_latent(X_train.astype(np.float32))
    y_encoded = np.searchsorted(clf.classes_, y_train)
    correct = train_logits.argmax(1) == y_encoded
    np.testing.assert_array_equal(
        clf.n_correct_per_class_, np.bincount(y_encoded[correct], minlength=3)
    )
    features = np.hstack([train_logits, train_latent])
    np.testing.assert_allclose(
        engine.class_means_[1], features[correct & (y_encoded == 1)].mean(0)
    )


def test_predict_is_openmax_rule(blobs, fitted):
    _, X_test, _, _ = blobs
    proba = fitted.predict_open_proba(X_test)
    y_pred = fitted.predict(X_test)
    unknown_wins = proba.argmax(1) == 3
    np.testing.assert_array_equal(y_pred == -1, unknown_wins)
    np.testing.assert_array_equal(
        y_pred[~unknown_wins], fitted.classes_[proba[~unknown_wins, :3].argmax(1)]
    )
    np.testing.assert_allclose(
        fitted.predict_proba(X_test), proba[:, :3] / proba[:, :3].sum(1, keepdims=True)
    )
    # epsilon and threshold add their rules without refitting.
    strict = fitted.set_params(epsilon=0.9)
    try:
        rejected = strict.predict(X_test) == -1
        assert np.array_equal(rejected, unknown_wins | (proba.max(1) < 0.9))
    finally:
        fitted.set_params(epsilon=0.0)


def test_detects_unknowns_and_training_losses_fall(blobs, fitted):
    _, X_test, _, y_test = blobs
    assert unknown_roc_auc_score(y_test, fitted.score_samples(X_test)) > 0.9
    history = fitted.net_.history
    for term in ("train_classification_loss", "train_reconstruction_loss"):
        assert history[-1, term] < history[0, term]
    known = y_test != -1
    accuracy = np.mean(fitted.predict(X_test)[known] == y_test[known])
    assert accuracy > 0.8


def test_threshold_auto_accepts_95_percent_of_correct_training_samples(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = CROSRClassifier(**FAST).fit(X_train, y_train)
    assert clf.threshold == "auto"  # the default
    proba = clf.predict_open_proba(X_test)
    own_rule = proba.argmax(1) == 3
    np.testing.assert_array_equal(
        clf.predict(X_test) == -1,
        own_rule | (clf.score_samples(X_test) < clf.threshold_),
    )
    logits, _ = clf._logits_and_latent(X_train.astype(np.float32))
    correct = clf.classes_[logits.argmax(1)] == y_train
    accepted = clf.score_samples(X_train)[correct] >= clf.threshold_
    assert accepted.mean() == pytest.approx(0.95, abs=0.01)


@pytest.mark.parametrize(
    "detector",
    [
        OneClassSVM(nu=0.1),
        make_pipeline(StandardScaler(), OneClassSVM(nu=0.1)),
        IsolationForest(n_estimators=20),
    ],
    ids=["ocsvm", "scaled-ocsvm", "iforest"],
)
def test_sklearn_detector_per_class(blobs, detector):
    X_train, X_test, y_train, y_test = blobs
    clf = CROSRClassifier(**FAST, detector=detector, threshold=None)
    clf.fit(X_train, y_train)
    assert clf.recalibration_ is None and len(clf.detectors_) == 3
    assert not hasattr(clf, "predict_open_proba")
    logits, latent = clf._logits_and_latent(X_test.astype(np.float32))
    features = np.hstack([logits, latent])
    index = logits.argmax(1)
    expected = np.array(
        [
            clf.detectors_[c].decision_function(f[None])[0]
            for c, f in zip(index, features)
        ]
    )
    np.testing.assert_allclose(clf.score_samples(X_test), expected, rtol=1e-10)
    y_pred = clf.predict(X_test)
    np.testing.assert_array_equal(y_pred == -1, expected < 0)
    np.testing.assert_allclose(clf.predict_proba(X_test).sum(1), 1.0)
    assert unknown_roc_auc_score(y_test, clf.score_samples(X_test)) > 0.8
    if isinstance(detector, IsolationForest):
        # Each class's clone is seeded from random_state: refits are identical.
        again = CROSRClassifier(**FAST, detector=detector, threshold=None)
        again.fit(X_train, y_train)
        np.testing.assert_array_equal(again.score_samples(X_test), expected)


def test_image_inputs_and_reconstruction():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    known = y < 3
    clf = CROSRClassifier(max_epochs=8, batch_size=32, tail_size=10, random_state=0)
    clf.fit(X[known][:240], y[known][:240])
    assert isinstance(clf.net_.module_, DHRNet)
    assert clf.latent_dim_ == 96
    assert clf.reconstruct(X[:5]).shape == (5, 1, 8, 8)
    assert clf.predict_open_proba(X[:5]).shape == (5, 4)
    with pytest.raises(ValueError, match="divisible by 4"):
        CROSRClassifier(max_epochs=1).fit(X[:60, :, :6, :6], y[:60])


class _LogitsOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, x):
        return self.linear(x)


class _WrongReconstruction(_LogitsOnly):
    def forward(self, x):
        logits = self.linear(x)
        return logits, logits, logits


class _NoClassify(_LogitsOnly):
    def forward(self, x):
        logits = self.linear(x)
        return logits, torch.tanh(logits), x * 0.5


def test_module_outputs_are_checked_and_forward_serves_without_classify(blobs):
    X_train, X_test, y_train, _ = blobs
    with pytest.raises(ValueError, match=r"\(logits, latent, reconstruction\)"):
        CROSRClassifier(_LogitsOnly, max_epochs=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="third output"):
        CROSRClassifier(_WrongReconstruction, max_epochs=1).fit(X_train, y_train)
    wrong_classes = VectorDHRNet(6, 5)
    with pytest.raises(ValueError, match="one logit per class"):
        CROSRClassifier(wrong_classes, max_epochs=1).fit(X_train, y_train)
    clf = CROSRClassifier(_NoClassify, **FAST, lr=0.05).fit(X_train, y_train)
    assert clf.latent_dim_ == 3
    assert clf.predict_open_proba(X_test).shape == (len(X_test), 4)


def test_too_few_correct_samples_for_the_tail(blobs):
    X_train, _, y_train, _ = blobs
    with pytest.warns(UserWarning, match="tail_size=200"):
        CROSRClassifier(max_epochs=2, tail_size=200, random_state=0).fit(
            X_train, y_train
        )


def test_class_without_correct_samples_named_in_the_error():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], 20)
    for detector in ("openmax", OneClassSVM()):
        # An untrained net (lr tiny) predicts one class for all samples.
        clf = CROSRClassifier(max_epochs=1, lr=1e-9, detector=detector, random_state=0)
        with pytest.raises(ValueError, match="class"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"detector": "weibull"}, "detector"),
        ({"detector": StandardScaler()}, "detector"),
        ({"alpha_rank": 0}, "alpha_rank"),
        ({"reconstruction_weight": -1.0}, "reconstruction_weight"),
        ({"threshold": float("nan")}, "threshold"),
        ({"tail_size": 1}, "tail_size"),
    ],
)
def test_bad_parameters_name_themselves(blobs, params, match):
    X_train, _, y_train, _ = blobs
    with pytest.raises(ValueError, match=match):
        CROSRClassifier(max_epochs=1, **params).fit(X_train, y_train)


def test_reconstruction_weight_zero_is_plain_classification(blobs):
    X_train, _, y_train, _ = blobs
    clf = CROSRClassifier(**FAST, reconstruction_weight=0.0).fit(X_train, y_train)
    decoder_weight = clf.net_.module_.decoders[0].weight
    # No gradient reaches the decoder: it keeps its initial weights.
    clf_again = CROSRClassifier(**{**FAST, "max_epochs": 1}, reconstruction_weight=0.0)
    clf_again.fit(X_train, y_train)
    torch.testing.assert_close(
        decoder_weight, clf_again.net_.module_.decoders[0].weight
    )


def test_registered_in_evaluate():
    assert "crosr" in ESTIMATORS


@pytest.mark.parametrize(
    "module_name", ["sklearn_openset._crosr", "sklearn_openset.nn._dhrnet"]
)
def test_docstring_examples_run(module_name):
    import doctest
    import importlib

    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_fit_detector_refits_the_detector_alone(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = CROSRClassifier(**FAST).fit(X_train, y_train)
    weights = clf.net_.module_.head.weight.detach().clone()
    openmax_scores = clf.score_samples(X_test)
    detector = IsolationForest(n_estimators=20)
    clf.set_params(detector=detector, threshold="auto").fit_detector(X_train, y_train)
    torch.testing.assert_close(clf.net_.module_.head.weight, weights)
    direct = CROSRClassifier(**FAST, detector=detector, threshold="auto")
    direct.fit(X_train, y_train)
    np.testing.assert_allclose(clf.score_samples(X_test), direct.score_samples(X_test))
    assert clf.threshold_ == pytest.approx(direct.threshold_)
    clf.set_params(detector="openmax", threshold=None).fit_detector(X_train, y_train)
    np.testing.assert_allclose(clf.score_samples(X_test), openmax_scores)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.fit_detector(X_test, np.full(len(X_test), 7))
    with pytest.raises(ValueError, match="detector"):
        clf.set_params(detector="svm").fit_detector(X_train, y_train)


def test_alpha_rank_auto_keeps_ranks_for_many_classes():
    from sklearn_openset.datasets import make_open_set_blobs

    X, _, y, _ = make_open_set_blobs(
        n_samples=1200,
        n_features=6,
        n_known_classes=12,
        n_unknown_classes=1,
        random_state=0,
    )
    clf = CROSRClassifier(max_epochs=3, tail_size=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    assert clf.alpha_rank_ == 10 and clf.recalibration_.alpha_rank == 10
