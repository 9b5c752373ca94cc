"""The deep-estimator base, through a minimal cross-entropy subclass."""

import io
import pickle
from contextlib import redirect_stderr, redirect_stdout
from numbers import Real
from typing import ClassVar

import numpy as np
import pytest
import torch
from sklearn.base import _fit_context, clone
from sklearn.utils._param_validation import Interval
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback
from torch import nn

from sklearn_openset import ANSOneVsRestClassifier, CACClassifier, OpenMaxClassifier
from sklearn_openset.base import BaseDeepOpenSetClassifier
from sklearn_openset.utils._testing import _OPEN_LABEL_COLLISION


def _mlp(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, n_classes))


class TinySoftmaxNet(BaseDeepOpenSetClassifier):
    """Cross-entropy MLP with max-softmax rejection: the smallest deep method."""

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepOpenSetClassifier._parameter_constraints,
        "threshold": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        module=None,
        *,
        max_epochs=5,
        lr=0.05,
        batch_size=32,
        optimizer="adam",
        device="cpu",
        callbacks=None,
        verbose=0,
        random_state=None,
        threshold=0.5,
        open_label=-1,
    ):
        self.module = module
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        self.threshold = threshold
        self.open_label = open_label

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        X, y_encoded = self._validate_fit_data(X, y, allow_nd=False)
        n_features, n_classes = X.shape[1], len(self.classes_)
        self._fit_net(
            X,
            y_encoded,
            default_module=lambda: _mlp(n_features, n_classes),
            criterion=nn.CrossEntropyLoss,
        )
        self._calibrate_threshold()
        return self

    def predict_proba(self, X):
        X = self._validate_predict_data(X, allow_nd=False)
        return torch.softmax(self._forward(X), dim=1).numpy().astype(np.float64)

    def _open_set_parts(self, X):
        proba = self.predict_proba(X)
        return proba.argmax(axis=1), proba.max(axis=1), None


# With threshold 0 nothing is rejected, so only the open_label collision of
# the shared table remains an expected failure.
_TINY_FAILURES = {"check_classifiers_classes": _OPEN_LABEL_COLLISION}


@parametrize_with_checks(
    [TinySoftmaxNet(max_epochs=5, threshold=0.0, random_state=0)],
    expected_failed_checks=lambda est: _TINY_FAILURES,
    xfail_strict=True,
)
def test_deep_base_passes_estimator_checks(estimator, check):
    check(estimator)


BLOBS = dict(n_samples=400, n_features=4, random_state=0)


def test_same_seed_same_predictions_and_global_rng_untouched(blobs):
    X_train, X_test, y_train, _ = blobs
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = TinySoftmaxNet(random_state=7).fit(X_train, y_train)
    after = torch.rand(1)
    assert before == after, "fit must leave the global torch random state alone"
    second = TinySoftmaxNet(random_state=7).fit(X_train, y_train)
    np.testing.assert_array_equal(
        first.predict_proba(X_test), second.predict_proba(X_test)
    )
    other = TinySoftmaxNet(random_state=8).fit(X_train, y_train)
    assert not np.array_equal(first.predict_proba(X_test), other.predict_proba(X_test))


def test_module_instance_is_copied_not_trained_in_place(blobs):
    X_train, _, y_train, _ = blobs
    module = _mlp(X_train.shape[1], 3)
    weights = [p.detach().clone() for p in module.parameters()]
    clf = TinySoftmaxNet(module=module, random_state=0).fit(X_train, y_train)
    for before, param in zip(weights, module.parameters()):
        torch.testing.assert_close(before, param.detach())
    assert clf.net_.module_ is not module
    # A callable builds the module.
    TinySoftmaxNet(module=lambda: _mlp(X_train.shape[1], 3)).fit(X_train, y_train)
    with pytest.raises(TypeError, match="module must be"):
        TinySoftmaxNet(module=lambda: "not a module").fit(X_train, y_train)


@pytest.mark.parametrize(
    "make_estimator",
    [
        TinySoftmaxNet,
        OpenMaxClassifier,
        CACClassifier,
        ANSOneVsRestClassifier,
    ],
    ids=lambda cls: cls.__name__,
)
def test_module_with_wrong_number_of_logits_fails_before_training(
    blobs, make_estimator
):
    X_train, _, y_train, _ = blobs
    n_features = X_train.shape[1]
    trained = []

    class Recorder(Callback):
        def on_epoch_end(self, net, **kwargs):
            trained.append(True)

    clf = make_estimator(
        module=lambda: _mlp(n_features, 5),  # 3 classes in y
        max_epochs=1,
        callbacks=[("recorder", Recorder())],
    )
    with pytest.raises(ValueError, match=r"one logit per class, shape \(2, 3\)"):
        clf.fit(X_train, y_train)
    assert not trained


class _LogitsAndFeatures(nn.Module):
    def __init__(self, n_features, n_logits):
        super().__init__()
        self.linear = nn.Linear(n_features, n_logits)

    def forward(self, x):
        return self.linear(x), x


def test_module_probe_leaves_batchnorm_statistics_alone(blobs):
    X_train, _, y_train, _ = blobs
    clf = TinySoftmaxNet()
    clf.classes_ = np.unique(y_train)
    probe = X_train[:2].astype(np.float32)  # as fit validates it
    module = nn.Sequential(nn.Linear(X_train.shape[1], 8), nn.BatchNorm1d(8))
    module.append(nn.Linear(8, 3))
    clf.module = module
    built = clf._checked_logits(clf._build_module(None), probe)
    assert built is not module and built.training
    bn = built[1]
    assert bn.num_batches_tracked.item() == 0
    torch.testing.assert_close(bn.running_mean, torch.zeros(8))
    # A module with several outputs: the first is the logits.
    clf.module = _LogitsAndFeatures(X_train.shape[1], 3)
    clf._checked_logits(clf._build_module(None), probe)
    clf.module = _LogitsAndFeatures(X_train.shape[1], 4)
    with pytest.raises(ValueError, match="Give the module's last layer 3 outputs"):
        clf._checked_logits(clf._build_module(None), probe)


def test_module_probe_does_not_change_training(blobs, monkeypatch):
    X_train, X_test, y_train, _ = blobs

    def module():
        return nn.Sequential(
            nn.Linear(X_train.shape[1], 16),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(16, 3),
        )

    checked = TinySoftmaxNet(module=module, random_state=0).fit(X_train, y_train)
    monkeypatch.setattr(
        TinySoftmaxNet, "_checked_logits", lambda self, module, X_probe: module
    )
    unchecked = TinySoftmaxNet(module=module, random_state=0).fit(X_train, y_train)
    np.testing.assert_array_equal(
        checked.predict_proba(X_test), unchecked.predict_proba(X_test)
    )


def test_training_learns(blobs):
    X_train, X_test, y_train, y_test = blobs
    clf = TinySoftmaxNet(max_epochs=20, random_state=0).fit(X_train, y_train)
    known = y_test != -1
    closed = clf.classes_[clf.predict_proba(X_test[known]).argmax(axis=1)]
    assert np.mean(closed == y_test[known]) > 0.9


def test_callbacks_and_progress(blobs):
    X_train, _, y_train, _ = blobs

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    counter = CountEpochs()
    clf = TinySoftmaxNet(max_epochs=3, callbacks=[("count", counter)])
    clf.fit(X_train, y_train)
    fitted_counter = dict(clf.net_.callbacks_)["count"]
    assert fitted_counter.epochs == 3
    assert not hasattr(counter, "epochs"), "the user's callback is not mutated"

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        TinySoftmaxNet(max_epochs=2, verbose=0).fit(X_train, y_train)
    assert out.getvalue() == "" and err.getvalue() == ""
    with redirect_stdout(out), redirect_stderr(err):
        TinySoftmaxNet(max_epochs=2, verbose=1).fit(X_train, y_train)
    assert "train_loss" in out.getvalue()


def test_optimizer_choices(blobs):
    X_train, _, y_train, _ = blobs
    clf = TinySoftmaxNet(optimizer="sgd", max_epochs=1).fit(X_train, y_train)
    assert isinstance(clf.net_.optimizer_, torch.optim.SGD)
    assert clf.net_.optimizer_.param_groups[0]["momentum"] == 0.9
    clf = TinySoftmaxNet(optimizer=torch.optim.RMSprop, max_epochs=1)
    assert isinstance(clf.fit(X_train, y_train).net_.optimizer_, torch.optim.RMSprop)
    with pytest.raises(ValueError, match="optimizer"):
        TinySoftmaxNet(optimizer="lbfgs").fit(X_train, y_train)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_cuda_unavailable_is_a_clear_error(blobs):
    X_train, _, y_train, _ = blobs
    with pytest.raises(ValueError, match="CUDA is not available"):
        TinySoftmaxNet(device="cuda").fit(X_train, y_train)
    clf = TinySoftmaxNet(device="auto", max_epochs=1).fit(X_train, y_train)
    assert str(clf.net_.device) == "cpu"


def test_bad_input_and_pickle(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = TinySoftmaxNet(max_epochs=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X_test[:, :3])
    with pytest.raises(ValueError, match="open_label"):
        TinySoftmaxNet(open_label=2).fit(X_train, y_train)
    with pytest.raises(ValueError, match="max_epochs"):
        TinySoftmaxNet(max_epochs=-1).fit(X_train, y_train)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X_test), clf.predict(X_test))
    assert clone(clf).get_params() == clf.get_params()


def test_batch_iterator_slices_whole_batches():
    from skorch.dataset import Dataset

    from sklearn_openset._deep._training import _ArrayBatches

    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    batches = list(_ArrayBatches(Dataset(X, y), batch_size=4))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(torch.cat([xb for xb, _ in batches]).numpy(), X)
    torch.manual_seed(0)
    shuffled = list(_ArrayBatches(Dataset(X, y), batch_size=4, shuffle=True))
    rows = torch.cat([yb for _, yb in shuffled]).numpy()
    assert sorted(rows) == list(range(10)) and list(rows) != list(range(10))
    np.testing.assert_array_equal(
        torch.cat([xb for xb, _ in shuffled]).numpy(), X[rows]
    )
    # Inference: no targets. Anything else goes through a DataLoader.
    assert all(yb is None for _, yb in _ArrayBatches(Dataset(X), batch_size=4))
    tensors = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    fallback = list(_ArrayBatches(tensors, batch_size=4))
    assert len(_ArrayBatches(tensors, batch_size=4)) == len(fallback) == 3
    np.testing.assert_array_equal(torch.cat([xb for xb, _ in fallback]).numpy(), X)


def test_class_balanced_steps():
    from skorch.dataset import Dataset

    from sklearn_openset._deep._training import _ArrayBatches

    # 3 classes of unequal sizes (10, 25, 7 samples), 4 samples per class and
    # step: ceil(42 / 12) = 4 steps, each with exactly 4 rows of every class.
    y = np.repeat([0, 1, 2], [10, 25, 7])
    X = np.arange(len(y), dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    torch.manual_seed(0)
    loader = _ArrayBatches(Dataset(X, y), batch_size=32, n_per_class=4)
    steps = list(loader)
    assert len(loader) == len(steps) == 4
    seen = []
    for X_step, y_step in steps:
        assert isinstance(X_step, torch.Tensor) and X_step.shape == (12, 2)
        # Class blocks in order, the rows are the samples of those labels.
        np.testing.assert_array_equal(y_step.numpy(), np.repeat([0, 1, 2], 4))
        np.testing.assert_array_equal(y[X_step[:, 0].long().numpy()], y_step.numpy())
        seen.append(X_step[:, 0].long().numpy())
    seen = np.concatenate(seen)
    # 16 draws per class: the 25 samples of class 1 never repeat within the
    # epoch; the 10 of class 0 all appear before any repeats.
    class_1 = seen[y[seen] == 1]
    assert len(np.unique(class_1)) == 16
    assert set(seen[y[seen] == 0][:10]) == set(np.flatnonzero(y == 0))
