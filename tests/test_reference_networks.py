"""Trained networks given as they are (``max_epochs=0``), and the CAC paper's own.

``max_epochs=0``: ``fit`` trains nothing and does only what follows training
(CAC: the anchors and the threshold; OpenMax: the Weibull tails; CROSR:
OpenMax's engine on the logits and latent codes). The
reference networks of ``shared/reference/cac-openset-mnist`` (the CAC
reference code's MNIST trial 0) are scored through the library and against a
direct computation from the network's logits.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_openset import CACClassifier, CROSRClassifier, OpenMaxClassifier
from sklearn_openset.datasets import make_open_set_blobs
from sklearn_openset.nn import MLP
from sklearn_openset.utils._reference import (
    cac_reference_network,
    cac_reference_split,
)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
MNIST = REFERENCE.parent / "data" / "mnist"


@pytest.mark.parametrize("estimator_class", [CACClassifier, OpenMaxClassifier])
def test_max_epochs_zero_keeps_the_given_weights(estimator_class):
    X, _, y, _ = make_open_set_blobs(n_samples=200, n_features=4, random_state=0)
    X = X.astype(np.float32)
    # A network that needs no training: linear, nearest class mean.
    classes = np.unique(y)
    means = np.stack([X[y == c].mean(axis=0) for c in classes])
    network = MLP(4, len(classes), hidden_layer_sizes=())
    with torch.no_grad():
        network.head.weight.copy_(torch.as_tensor(means))
        network.head.bias.copy_(torch.as_tensor(-0.5 * (means**2).sum(axis=1)))
    clf = estimator_class(module=network, max_epochs=0, random_state=0).fit(X, y)
    trained = clf.net_.module_.state_dict()
    for name, value in network.state_dict().items():
        # CAC wraps the network (its anchors around it); compare by suffix.
        match = [v for k, v in trained.items() if k.endswith(name)]
        assert match and torch.equal(match[0], value), name
    assert len(clf.net_.history) == 0


def test_crosr_max_epochs_zero_fits_openmax_on_the_given_network():
    X, X_test, y, _ = make_open_set_blobs(n_samples=300, n_features=6, random_state=0)
    X = X.astype(np.float32)
    params = {"tail_size": 10, "random_state": 0}
    trained = CROSRClassifier(max_epochs=8, **params).fit(X, y)
    network = trained.net_.module_
    weights = {k: v.detach().clone() for k, v in network.state_dict().items()}

    clf = CROSRClassifier(module=network, max_epochs=0, **params).fit(X, y)
    assert len(clf.net_.history) == 0
    assert clf.net_.module_ is not network  # deep-copied, never trained in place
    for name, value in clf.net_.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name
    for name, value in network.state_dict().items():
        assert torch.equal(value, weights[name]), name
    # OpenMax's engine on [logits, latent codes] of the given network: the
    # class means of the correctly classified training samples, as fit after
    # training would give them, and so the same scores and threshold.
    with torch.no_grad():
        network.eval()
        logits, latent = (
            t.double().numpy() for t in network.classify(torch.as_tensor(X))
        )
    codes = np.searchsorted(clf.classes_, y)
    correct = logits.argmax(axis=1) == codes
    features = np.hstack([logits, latent])
    assert clf.recalibration_.class_means_.shape == (3, 3 + clf.latent_dim_)
    for k in range(3):
        np.testing.assert_allclose(
            clf.recalibration_.class_means_[k],
            features[correct & (codes == k)].mean(axis=0),
            rtol=1e-5,
            atol=1e-5,
        )
    np.testing.assert_array_equal(
        clf.n_correct_per_class_, trained.n_correct_per_class_
    )
    np.testing.assert_allclose(
        clf.score_samples(X_test), trained.score_samples(X_test), rtol=1e-12
    )
    assert clf.threshold_ == trained.threshold_
    np.testing.assert_array_equal(clf.predict(X_test), trained.predict(X_test))


def _reference_trial(trial=0, n_train=600, n_test=1000):
    folder = REFERENCE / "cac-openset-mnist"
    known, prepare = cac_reference_split(folder, trial)
    with (
        np.load(MNIST / "mnist_train5k.npz") as train,
        np.load(MNIST / "mnist_test10k.npz") as test,
    ):
        # The first n_train // 6 images of each known digit.
        keep = np.concatenate(
            [np.flatnonzero(train["y"] == digit)[: n_train // 6] for digit in known]
        )
        X_train, y_train = train["x"][keep], train["y"][keep]
        X_test = test["x"][:n_test]
    network = cac_reference_network(folder, trial, "CACclassifierAnchorLoss")
    return network, prepare(X_train), y_train.astype(np.int64), prepare(X_test)


@pytest.mark.skipif(
    not (REFERENCE / "cac-openset-mnist").is_dir() or not MNIST.is_dir(),
    reason="shared/reference/cac-openset-mnist and shared/data/mnist are not "
    "beside the checkout",
)
def test_cac_reference_network_scores_as_its_logits_say():
    network, X_train, y_train, X_test = _reference_trial()
    clf = CACClassifier(module=network, max_epochs=0, random_state=0)
    clf.fit(X_train, y_train)

    with torch.no_grad():
        network.eval()
        logits_train = network(torch.as_tensor(X_train)).double().numpy()
        logits_test = network(torch.as_tensor(X_test)).double().numpy()
    # Anchors: the mean logit of the correctly classified training images of
    # each class (the classes are the sorted known digits).
    classes = np.unique(y_train)
    codes = np.searchsorted(classes, y_train)
    anchors = 10.0 * np.eye(len(classes))
    distances = np.linalg.norm(logits_train[:, None] - anchors[None], axis=2)
    correct = distances.argmin(axis=1) == codes
    for k in range(len(classes)):
        anchors[k] = logits_train[correct & (codes == k)].mean(axis=0)
    d = np.linalg.norm(logits_test[:, None] - anchors[None], axis=2)
    softmin = np.exp(-d) / np.exp(-d).sum(axis=1, keepdims=True)
    expected = -(d * (1 - softmin)).min(axis=1)

    np.testing.assert_allclose(clf.anchors_, anchors, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        clf.score_samples(X_test), expected, rtol=1e-4, atol=1e-4
    )
