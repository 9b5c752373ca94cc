"""Tests of CACClassifier: the method's rules, training plumbing and inputs."""

import copy
import pickle
from functools import partial

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, EarlyStopping
from torch import nn

from sklearn_openset import CACClassifier
from sklearn_openset.evaluation import ESTIMATORS
from sklearn_openset.metrics import unknown_roc_auc_score
from sklearn_openset.nn import MLP, CACNet, Classifier32


def _small_mlp(n_features, n_classes):
    return partial(MLP, n_features, n_classes, hidden_layer_sizes=(32,))


def _softmin(d):
    e = np.exp(-(d - d.min(axis=1, keepdims=True)))
    return e / e.sum(axis=1, keepdims=True)


def _rejection_scores(distances):
    """The paper's per-class score d * (1 - softmin(d)), in numpy."""
    return distances * (1.0 - _softmin(distances))


BLOBS = dict(n_samples=500, n_features=4, random_state=0)


@pytest.fixture(scope="module")
def fitted(blobs):
    X_train, _, y_train, _ = blobs
    # The default MLP (256, 128).
    clf = CACClassifier(max_epochs=60, random_state=0)
    return clf.fit(X_train, y_train)


def _logits(clf, X):
    """Logits of the trained backbone, computed here in float64."""
    backbone = copy.deepcopy(clf.net_.module_.backbone).double().eval()
    # The estimator validates X as float32, then infers in float64.
    X = torch.as_tensor(np.asarray(X, dtype=np.float32), dtype=torch.float64)
    with torch.no_grad():
        return backbone(X).numpy()


def test_anchors_are_mean_logits_of_correct_training_samples(blobs):
    X_train, _, y_train, _ = blobs
    # 10% of the labels flipped, so that some training samples stay
    # misclassified and must be left out of the means.
    rng = np.random.RandomState(0)
    y_train = y_train.copy()
    flip = rng.rand(len(y_train)) < 0.1
    y_train[flip] = (y_train[flip] + 1) % 3
    clf = CACClassifier(
        _small_mlp(4, 3), max_epochs=30, inference_dtype="float64", random_state=0
    )
    clf.fit(X_train, y_train)
    logits = _logits(clf, X_train)
    # Correct: the nearest training anchor (magnitude * e_j) is the class.
    train_anchors = 10.0 * np.eye(3)
    d_train = np.linalg.norm(logits[:, None, :] - train_anchors[None], axis=2)
    correct = d_train.argmin(axis=1) == y_train
    # ... which, for anchors alpha * I, is the arg-max logit (reference code).
    np.testing.assert_array_equal(correct, logits.argmax(axis=1) == y_train)
    assert 0.8 < correct.mean() < 1.0
    expected = np.stack(
        [logits[correct & (y_train == c)].mean(axis=0) for c in range(3)]
    )
    # The module keeps its anchors in float32.
    np.testing.assert_allclose(clf.anchors_, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(
        clf.n_correct_per_class_, np.bincount(y_train[correct], minlength=3)
    )
    torch.testing.assert_close(
        clf.net_.module_.anchors.double(), torch.as_tensor(clf.anchors_)
    )
    # The final anchors moved away from the training anchors.
    assert not np.allclose(clf.anchors_, train_anchors, atol=0.1)
    # Predictions use the distances to the final anchors.
    d_final = np.linalg.norm(logits[:, None, :] - clf.anchors_[None], axis=2)
    np.testing.assert_allclose(-clf.decision_function(X_train), d_final, atol=1e-9)


class _TrainNoise(nn.Module):
    """Train-mode-only augmentation (the pattern of CACClassifier's docstring)."""

    def __init__(self):
        super().__init__()
        self.train_calls = 0

    def forward(self, x):
        if not self.training:
            return x
        self.train_calls += 1
        return x + 0.5 * torch.randn_like(x)


def test_augmentation_layer_trains_on_noisy_inputs_and_infers_on_plain_ones(blobs):
    X_train, X_test, y_train, _ = blobs

    def module():
        return nn.Sequential(_TrainNoise(), _small_mlp(4, 3)())

    clf = CACClassifier(module, max_epochs=5, batch_size=100, random_state=0)
    clf.fit(X_train, y_train)
    noise = clf.net_.module_.backbone[0]
    # One call per training batch: the augmentation ran while training ...
    assert noise.train_calls == 5 * int(np.ceil(len(X_train) / 100))
    # ... and not for the anchors and predictions: those are computed in eval
    # mode, so the anchors are the mean eval-mode logits of the correctly
    # classified training samples (a noisy pass would give other means).
    logits = _logits(clf, X_train)
    correct = logits.argmax(axis=1) == y_train
    expected = np.stack(
        [logits[correct & (y_train == c)].mean(axis=0) for c in range(3)]
    )
    np.testing.assert_allclose(clf.anchors_, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X_test), clf.predict(X_test))
    assert noise.train_calls == 5 * int(np.ceil(len(X_train) / 100))
    # The noise is drawn from torch's generator, which fit seeds.
    again = CACClassifier(module, max_epochs=5, batch_size=100, random_state=0)
    again.fit(X_train, y_train)
    np.testing.assert_array_equal(again.anchors_, clf.anchors_)
    plain = CACClassifier(_small_mlp(4, 3), max_epochs=5, batch_size=100)
    plain.set_params(random_state=0).fit(X_train, y_train)
    assert not np.allclose(plain.anchors_, clf.anchors_)


def test_rejection_rule_and_sign(blobs, fitted):
    _, X_test, _, _ = blobs
    clf = fitted
    d = -clf.decision_function(X_test)
    s = _rejection_scores(d)
    known = clf.score_samples(X_test)
    np.testing.assert_allclose(known, -s.min(axis=1), rtol=1e-12, atol=1e-12)
    assert (known <= 0).all()
    assert clf.threshold_ < 0
    y_pred = clf.predict(X_test)
    rejected = y_pred == -1
    # DESIGN's rule and the paper's rule are the same rule.
    np.testing.assert_array_equal(rejected, known < clf.threshold_)
    np.testing.assert_array_equal(rejected, s.min(axis=1) > -clf.threshold_)
    assert 0 < rejected.sum() < len(X_test)
    # Accepted inputs get the nearest anchor's class (= lowest score's class).
    np.testing.assert_array_equal(y_pred[~rejected], d[~rejected].argmin(axis=1))
    np.testing.assert_array_equal(s.argmin(axis=1), d.argmin(axis=1))

    # A number: a paper-style distance threshold t is passed as -t.
    t = float(np.median(s.min(axis=1)))
    fixed = clone(clf).set_params(threshold=-t).fit(*blobs[::2])
    s_fixed = _rejection_scores(-fixed.decision_function(X_test)).min(axis=1)
    assert fixed.threshold_ == -t
    np.testing.assert_array_equal(fixed.predict(X_test) == -1, s_fixed > t)
    with pytest.raises(ValueError, match="threshold"):
        clone(clf).set_params(threshold=t).fit(*blobs[::2])


def test_threshold_auto_accepts_95_percent_of_correct_training_samples(blobs, fitted):
    X_train, _, y_train, _ = blobs
    clf = fitted
    correct = clf.predict_proba(X_train).argmax(axis=1) == y_train
    accepted = clf.score_samples(X_train)[correct] >= clf.threshold_
    assert abs(accepted.mean() - 0.95) <= 1.0 / correct.sum()
    # The threshold comes from float32 logits, the scores from float32
    # distances: equal to float32 rounding.
    assert clf.threshold_ == pytest.approx(
        np.quantile(clf.score_samples(X_train)[correct], 0.05), rel=1e-5
    )


def test_predict_proba_is_softmin_and_decision_function_minus_distance(blobs, fitted):
    _, X_test, _, _ = blobs
    proba = fitted.predict_proba(X_test)
    d = -fitted.decision_function(X_test)
    assert d.shape == proba.shape == (len(X_test), 3)
    assert (d >= 0).all()
    np.testing.assert_allclose(proba, _softmin(d), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)

    # Two classes: scikit-learn's binary convention, d_0 - d_1.
    X_train, _, y_train, _ = blobs
    keep = y_train < 2
    binary = CACClassifier(_small_mlp(4, 2), max_epochs=5, random_state=0)
    binary.fit(X_train[keep], y_train[keep])
    d2 = binary._distances(X_test).numpy()
    decision = binary.decision_function(X_test)
    assert decision.shape == (len(X_test),)
    np.testing.assert_allclose(decision, d2[:, 0] - d2[:, 1])
    assert (
        np.argsort(decision) == np.argsort(binary.predict_proba(X_test)[:, 1])
    ).all()


def test_same_random_state_same_predictions(blobs, fitted):
    X_train, X_test, y_train, _ = blobs
    params = fitted.get_params()
    again = CACClassifier(**params).fit(X_train, y_train)
    np.testing.assert_array_equal(
        again.predict_proba(X_test), fitted.predict_proba(X_test)
    )
    np.testing.assert_array_equal(again.predict(X_test), fitted.predict(X_test))
    assert again.threshold_ == fitted.threshold_
    other = CACClassifier(**{**params, "random_state": 1}).fit(X_train, y_train)
    assert not np.array_equal(other.predict_proba(X_test), fitted.predict_proba(X_test))


def test_detects_far_away_inputs(blobs, fitted):
    X_train, X_test, _, y_test = blobs
    assert unknown_roc_auc_score(y_test, fitted.score_samples(X_test)) > 0.9
    rng = np.random.RandomState(0)
    directions = rng.normal(size=(20, X_train.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    far = X_train.mean(axis=0) + 50 * X_train.std() * directions
    assert (fitted.predict(far) == -1).all()
    assert np.median(fitted.score_samples(far)) < fitted.score_samples(X_train).min()


def test_string_labels(blobs):
    X_train, X_test, y_train, _ = blobs
    names = np.array(["cat", "dog", "emu"])[y_train]
    clf = CACClassifier(_small_mlp(4, 3), max_epochs=5, random_state=0)
    y_pred = clf.fit(X_train, names).predict(X_test)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert y_pred.dtype == object and set(y_pred) <= {"cat", "dog", "emu", -1}
    clf = clone(clf).set_params(open_label="unknown").fit(X_train, names)
    assert clf.predict(X_test).dtype.kind == "U"


def test_bad_input(blobs, fitted):
    X_train, X_test, y_train, _ = blobs
    tiny = {"max_epochs": 1, "random_state": 0}
    X_nan = X_train.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        CACClassifier(**tiny).fit(X_nan, y_train)
    X_test_nan = X_test.copy()
    X_test_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(X_test_nan)
    with pytest.raises(ValueError, match="default network"):
        CACClassifier(**tiny).fit(X_train.reshape(-1, 2, 2), y_train)
    with pytest.raises(ValueError, match="at least 2 known classes"):
        CACClassifier(**tiny).fit(X_train, np.zeros_like(y_train))
    with pytest.raises(ValueError, match="open_label"):
        CACClassifier(open_label=1, **tiny).fit(X_train, y_train)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X_test[:, :3])
    with pytest.raises(ValueError, match="magnitude"):
        CACClassifier(magnitude=0, **tiny).fit(X_train, y_train)
    with pytest.raises(ValueError, match="validation_fraction"):
        CACClassifier(validation_fraction=1.0, **tiny).fit(X_train, y_train)
    with pytest.raises(TypeError, match="backbone"):
        CACClassifier(CACNet(MLP(4, 3), 3), **tiny).fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"one logit per class, shape \(2, 3\)"):
        CACClassifier(MLP(4, 5), **tiny).fit(X_train, y_train)


# One epoch of classifier32 may leave a class without correct samples.
@pytest.mark.filterwarnings("ignore:No training sample:UserWarning")
def test_image_inputs_with_a_tiny_module():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 30)
    X = rng.normal(size=(90, 1, 8, 8)).astype(np.float32) * 0.1
    X[np.arange(90), 0, y, y] += 3.0  # one bright pixel per class
    tiny_cnn = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3)
    )
    clf = CACClassifier(tiny_cnn, max_epochs=15, random_state=0).fit(X, y)
    assert clf.input_shape_ == (1, 8, 8)
    assert np.mean(clf.predict_proba(X).argmax(axis=1) == y) > 0.9
    assert clf.predict(X).shape == (90,)
    with pytest.raises(ValueError, match="shape"):
        clf.predict(X[:, :, :4, :4])
    # The default network for images is classifier32 with the reference
    # code's head over the flattened map (one epoch of 12 images).
    rows = np.r_[0:4, 30:34, 60:64]
    cnn = CACClassifier(max_epochs=1, random_state=0).fit(X[rows], y[rows])
    cnn32 = cnn.net_.module_.backbone
    assert isinstance(cnn32, Classifier32)
    assert (cnn32.in_channels, cnn32.pooling, cnn32.dropout) == (1, "flatten", 0.2)
    assert cnn.net_.module_.backbone.in_channels == 1
    assert cnn.predict_proba(X[:5]).shape == (5, 3)


class _RecordLR(Callback):
    """Learning rate of the optimizer during each epoch."""

    def initialize(self):
        self.lrs = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.lrs.append(net.optimizer_.param_groups[0]["lr"])


# One epoch of training leaves a class without correct samples (a warning).
@pytest.mark.filterwarnings("ignore:No training sample:UserWarning")
@pytest.mark.parametrize("max_epochs, n_high", [(6, 3), (5, 3), (1, 1)])
def test_lr_schedule_drops_at_half(blobs, max_epochs, n_high):
    X_train, _, y_train, _ = blobs
    clf = CACClassifier(
        _small_mlp(4, 3),
        max_epochs=max_epochs,
        lr=0.02,
        lr_schedule="step",
        callbacks=[("record_lr", _RecordLR())],
        random_state=0,
    ).fit(X_train, y_train)
    expected = [0.02] * n_high + [0.002] * (max_epochs - n_high)
    np.testing.assert_allclose(dict(clf.net_.callbacks_)["record_lr"].lrs, expected)
    np.testing.assert_allclose(clf.net_.history[:, "event_lr"], expected)

    constant = clone(clf).set_params(lr_schedule=None).fit(X_train, y_train)
    np.testing.assert_allclose(
        dict(constant.net_.callbacks_)["record_lr"].lrs, [0.02] * max_epochs
    )


def test_sgd_momentum_and_loss_terms_in_history(fitted):
    optimizer = fitted.net_.optimizer_
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["momentum"] == 0.9
    history = fitted.net_.history
    assert len(history) == fitted.best_epoch_ == 60
    total = np.array(history[:, "train_loss"])
    anchor = np.array(history[:, "train_anchor_loss"])
    tuplet = np.array(history[:, "train_tuplet_loss"])
    np.testing.assert_allclose(total, tuplet + 0.1 * anchor, rtol=1e-5)
    assert total[-1] < 0.5 * total[0]


class _SnapshotBackbone(Callback):
    def initialize(self):
        self.states = []
        return self

    def on_epoch_end(self, net, **kwargs):
        state = net.module_.backbone.state_dict()
        self.states.append({k: v.detach().clone() for k, v in state.items()})


def test_validation_fraction_keeps_the_epoch_of_lowest_valid_anchor_loss(blobs):
    X_train, _, y_train, _ = blobs
    clf = CACClassifier(
        _small_mlp(4, 3),
        validation_fraction=0.3,
        max_epochs=12,
        lr=0.05,
        callbacks=[("snapshot", _SnapshotBackbone())],
        random_state=0,
    ).fit(X_train, y_train)
    history = clf.net_.history
    valid = np.array(history[:, "valid_anchor_loss"])
    assert clf.best_epoch_ == int(np.argmin(valid)) + 1
    assert len(history[-1, "batches"]) > 0
    n_valid = sum(
        b["valid_batch_size"] for b in history[-1, "batches"] if "valid_batch_size" in b
    )
    assert n_valid == round(0.3 * len(X_train))
    snapshots = dict(clf.net_.callbacks_)["snapshot"].states
    kept = clf.net_.module_.backbone.state_dict()
    for name, value in kept.items():
        torch.testing.assert_close(value, snapshots[clf.best_epoch_ - 1][name])
    # The anchors are set on all training samples.
    assert clf.n_correct_per_class_.sum() > 0.7 * len(X_train)


def test_validation_fraction_calibrates_auto_threshold_on_held_out_samples(blobs):
    X_train, _, y_train, _ = blobs
    clf = CACClassifier(
        _small_mlp(4, 3), validation_fraction=0.3, max_epochs=12, random_state=0
    ).fit(X_train, y_train)
    held_out = clf.net_.train_split.keywords["valid_ds"]
    X_held_out = held_out.X
    y_held_out = clf.classes_[held_out.y]
    assert len(X_held_out) == round(0.3 * len(X_train))
    scores = clf.score_samples(X_held_out)
    correct = clf.predict_proba(X_held_out).argmax(axis=1) == np.searchsorted(
        clf.classes_, y_held_out
    )
    assert clf.threshold_ == pytest.approx(np.quantile(scores[correct], 0.05), rel=1e-5)
    # Not the quantile over all training samples (which would include the
    # samples the network was fitted on).
    all_correct = clf.predict_proba(X_train).argmax(axis=1) == y_train
    on_all = np.quantile(clf.score_samples(X_train)[all_correct], 0.05)
    assert clf.threshold_ != pytest.approx(on_all, abs=1e-9)


def test_validation_fraction_restores_an_earlier_epoch():
    # Random labels, few samples and a large step size: the validation anchor
    # loss does not decrease steadily, and an earlier epoch than the last one
    # must be restored.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = rng.randint(3, size=60)
    clf = CACClassifier(
        _small_mlp(4, 3),
        validation_fraction=0.3,
        max_epochs=15,
        lr=0.5,
        batch_size=16,
        lr_schedule=None,
        callbacks=[("snapshot", _SnapshotBackbone())],
        random_state=0,
    ).fit(X, y)
    valid = np.array(clf.net_.history[:, "valid_anchor_loss"])
    assert clf.best_epoch_ == int(np.argmin(valid)) + 1 < 15
    snapshots = dict(clf.net_.callbacks_)["snapshot"].states
    for name, value in clf.net_.module_.backbone.state_dict().items():
        torch.testing.assert_close(value, snapshots[clf.best_epoch_ - 1][name])
    last = snapshots[-1]
    assert any(
        not torch.equal(value, last[name])
        for name, value in clf.net_.module_.backbone.state_dict().items()
    )
    # A user's callback can monitor the validation anchor loss.
    stop = EarlyStopping(monitor="valid_anchor_loss", patience=3, sink=print)
    stopped = clone(clf).set_params(callbacks=[("stop", stop)]).fit(X, y)
    n_epochs = len(stopped.net_.history)
    assert n_epochs == clf.best_epoch_ + 3 < 15
    assert stopped.best_epoch_ == clf.best_epoch_


def test_a_class_without_correct_samples_keeps_its_training_anchor():
    # A fixed linear "network" (lr tiny) that never prefers class 2.
    rng = np.random.RandomState(0)
    X = np.vstack(
        [
            rng.normal([3, -3], 0.3, size=(20, 2)),
            rng.normal([-3, 3], 0.3, size=(20, 2)),
            rng.normal([0, 0], 0.3, size=(20, 2)),
        ]
    )
    y = np.repeat([0, 1, 2], 20)
    linear = nn.Linear(2, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0], [0.0, 0.0]]))
        linear.bias.copy_(torch.tensor([0.0, 0.0, -100.0]))
    clf = CACClassifier(linear, max_epochs=1, lr=1e-12, random_state=0)
    with pytest.warns(UserWarning, match=r"class\(es\) \[2\]"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.n_correct_per_class_, [20, 20, 0])
    np.testing.assert_allclose(clf.anchors_[2], [0.0, 0.0, 10.0])
    logits = X @ linear.weight.detach().numpy().T + linear.bias.detach().numpy()
    np.testing.assert_allclose(clf.anchors_[0], logits[:20].mean(axis=0), rtol=1e-5)


def test_user_callbacks_pickle_and_registration(blobs, fitted):
    _, X_test, _, _ = blobs
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        again.score_samples(X_test), fitted.score_samples(X_test)
    )
    assert clone(fitted).get_params()["max_epochs"] == 60
    assert "cac" in ESTIMATORS
    default = ESTIMATORS["cac"].factory(3)
    assert isinstance(default, CACClassifier) and default.random_state == 3
    params = CACClassifier().get_params()
    assert (params["magnitude"], params["lambda_anchor"], params["lr"]) == (
        10.0,
        0.1,
        0.01,
    )
    assert (params["optimizer"], params["batch_size"], params["max_epochs"]) == (
        "sgd",
        128,
        70,
    )
