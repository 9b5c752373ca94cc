"""Shared parts of the CAC benchmarks: data, the cross-entropy baseline, metrics."""

import platform
from numbers import Real
from typing import ClassVar

import numpy as np
import sklearn
import torch
from scipy.special import logsumexp
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn
from torch.nn import functional as F

import sklearn_openset
from sklearn_openset import OpenMaxClassifier
from sklearn_openset.base import BaseDeepOpenSetClassifier
from sklearn_openset.datasets import (
    CAC_MNIST_KNOWN_CLASSES,
    load_digits_open_set,
    load_mnist,
    relabel_open_set,
)
from sklearn_openset.metrics import (
    closed_set_accuracy_score,
    open_set_accuracy_score,
    open_set_f1_score,
    unknown_roc_auc_score,
)
from sklearn_openset.nn import MLP, Classifier32, cac_rejection_score

TRIALS = CAC_MNIST_KNOWN_CLASSES


def load_trial(dataset, trial, images):
    """``X_train, X_test, y_train, y_test`` of one trial; pixels in [0, 1].

    ``images``: ``(n, 1, h, w)`` arrays, else flattened vectors.
    """
    known = TRIALS[trial]
    if dataset == "mnist":
        mnist = load_mnist()
        rows = np.isin(mnist.y_train, known)
        X_train = mnist.X_train[rows].astype(np.float32) / 255.0
        X_test = mnist.X_test.astype(np.float32) / 255.0
        y_train, y_test = mnist.y_train[rows], relabel_open_set(mnist.y_test, known)
        side = 28
    else:
        X_train, X_test, y_train, y_test = load_digits_open_set(
            known_classes=known, random_state=trial
        )
        X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
        side = 8
    shape = (1, side, side) if images else (side * side,)
    return (
        X_train.reshape(-1, *shape),
        X_test.reshape(-1, *shape),
        y_train,
        y_test,
    )


def small_cnn(n_classes, in_channels=1, side=28):
    """A small LeNet-style CNN (about 40x cheaper than classifier32).

    Two 3x3 convolution blocks (32 and 64 channels, BatchNorm, ReLU, 2x2 max
    pooling), dropout 0.2, a 128-unit hidden layer and one logit per class.
    """
    flat = 64 * (side // 4) * (side // 4)
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(flat, 128),
        nn.ReLU(),
        nn.Linear(128, n_classes),
    )


def compact_cnn(n_classes, in_channels=1):
    """A CPU-sized CNN built like classifier32 (about 7x cheaper on MNIST).

    Five 3x3 convolutions in three groups (32-32, 64-64, 128 channels), each
    followed by BatchNorm and LeakyReLU(0.2) as in classifier32, 2x2 max
    pooling between the groups, global max pooling of the 128 maps, dropout
    0.2 and one logit per class. About 22 million multiply-adds per 28x28
    image against classifier32's 163 million, so that five trials of two
    methods train to a plateau on two CPU cores within the hour. Any image
    side of at least 4 pixels works (the pooling is global).
    """

    def block(width_in, width_out):
        return (
            nn.Conv2d(width_in, width_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(width_out),
            nn.LeakyReLU(0.2),
        )

    return nn.Sequential(
        *block(in_channels, 32),
        *block(32, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        *block(64, 64),
        nn.MaxPool2d(2),
        *block(64, 128),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(128, n_classes),
    )


class RandomResizedCrop(nn.Module):
    """Random resized crops of an image batch in train mode; identity in eval mode.

    The training augmentation of the CAC reference code for MNIST
    (torchvision's ``RandomResizedCrop(scale=(0.7, 1.0))``, default aspect
    ratios 3/4 to 4/3), done per sample on the batch tensor: a box of a random
    share ``scale`` of the image area and aspect ratio ``ratio`` (log-uniform),
    each side at most the image's, at a random place inside the image, is
    resampled (bilinear) to the input size. Being a layer that acts only in
    train mode, it leaves prediction and the anchors (computed in eval mode)
    on the unaugmented images, as in the reference code. Draws from torch's
    global generator, which the estimators seed in ``fit``.
    """

    def __init__(self, scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3)):
        super().__init__()
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)

    def forward(self, x):
        if not self.training:
            return x
        n, kw = len(x), {"device": x.device, "dtype": x.dtype}
        area = torch.empty(n, **kw).uniform_(*self.scale)
        log_ratio = torch.empty(n, **kw).uniform_(*np.log(self.ratio))
        # Box sides as fractions of the image's (affine_grid's [-1, 1] frame).
        width = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)
        height = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
        theta = torch.zeros(n, 2, 3, **kw)
        theta[:, 0, 0], theta[:, 1, 1] = width, height
        theta[:, 0, 2] = (torch.rand(n, **kw) * 2 - 1) * (1 - width)
        theta[:, 1, 2] = (torch.rand(n, **kw) * 2 - 1) * (1 - height)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", align_corners=False)


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed scalars (the reference code's input scaling)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x):
        return (x - self.mean) / self.std


class SGDWeightDecay(torch.optim.SGD):
    """SGD with momentum 0.9 and weight decay 5e-6: the reference code's MNIST optimizer."""

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=5e-6, **kwargs):
        super().__init__(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kwargs
        )


def reference_recipe(build, X_train, scale=(0.7, 1.0)):
    """``build`` wrapped in the reference code's input pipeline.

    A callable returning ``Sequential(RandomResizedCrop(scale), Standardize(mean,
    std), build())``, the mean and standard deviation of the training pixels
    (the reference code standardizes with those of the known-class training
    images of each trial).
    """
    mean, std = float(X_train.mean()), float(X_train.std())

    def make():
        return nn.Sequential(RandomResizedCrop(scale), Standardize(mean, std), build())

    return make


def default_backbone(input_shape, n_classes):
    """CACClassifier's default backbone, for the cross-entropy baseline."""
    if len(input_shape) == 1:
        return MLP(input_shape[0], n_classes)
    return Classifier32(n_classes, in_channels=input_shape[0], pooling="flatten")


class CrossEntropyMSP(BaseDeepOpenSetClassifier):
    """The "Softmax" baseline of the CAC paper on the same deep base as CAC.

    The same backbone (CACClassifier's default), optimizer, batches, epochs and
    step schedule as ``CACClassifier``, trained with cross-entropy; the
    known-ness score is the maximum softmax probability, and
    ``threshold="auto"`` accepts 95% of the correctly classified training
    samples, as CAC's. With ``validation_fraction``, that share of the
    samples (stratified, drawn with ``random_state``) is held out of training
    and the threshold accepts 95% of its correctly classified samples, as
    CAC's; unlike CAC, the weights of the last epoch are kept (cross-entropy
    has no anchor loss to select an epoch by).

    ``_criterion`` (a class attribute, the training loss of the logits and
    the encoded labels) lets a subclass train the same network with another
    loss.
    """

    _criterion = nn.CrossEntropyLoss

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepOpenSetClassifier._parameter_constraints,
        "threshold": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "lr_schedule": [StrOptions({"step"}), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    }

    def __init__(
        self,
        module=None,
        *,
        threshold="auto",
        lr_schedule="step",
        validation_fraction=None,
        max_epochs=70,
        lr=0.01,
        batch_size=128,
        optimizer="sgd",
        device="cpu",
        callbacks=None,
        verbose=0,
        random_state=None,
        open_label=-1,
    ):
        self.module = module
        self.threshold = threshold
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        self.open_label = open_label

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        from sklearn_openset._cac import _ArrayBatches, _step_lr_schedule

        X, y_encoded = self._validate_fit_data(X, y)
        n_classes = len(self.classes_)
        callbacks = self._callbacks()
        if self.lr_schedule == "step":
            callbacks.append(_step_lr_schedule(self.max_epochs))
        random_state = check_random_state(self.random_state)
        # CACClassifier's split, so the same samples for the same seed.
        train_rows, calibration_rows = self._held_out_rows(
            y_encoded, self.validation_fraction, random_state
        )
        self._fit_net(
            X[train_rows],
            y_encoded[train_rows],
            random_state=random_state,
            default_module=lambda: default_backbone(X.shape[1:], n_classes),
            criterion=self._criterion,
            callbacks=callbacks,
            iterator_train=_ArrayBatches,
            iterator_valid=_ArrayBatches,
        )
        if isinstance(self.threshold, str):
            proba = self.predict_proba(X[calibration_rows])
            correct = proba.argmax(axis=1) == y_encoded[calibration_rows]
            self._calibrate_threshold(proba.max(axis=1), correct)
        else:
            self._calibrate_threshold()
        return self

    def predict_proba(self, X):
        X = self._validate_predict_data(X)
        return torch.softmax(self._forward(X).double(), dim=1).numpy()

    def _open_set_parts(self, X):
        proba = self.predict_proba(X)
        return proba.argmax(axis=1), proba.max(axis=1), None


def outputs_once(clf, X, logits=None):
    """``(y_pred, known_scores, closed_pred)`` from one forward pass over ``X``.

    ``predict``, ``score_samples`` and ``predict_proba`` each run the network;
    on CPU the float64 inference of a CNN over 10k images takes minutes, so
    the three are derived here from a single pass, by the estimator's own
    rules (checked against its methods on a few samples by ``check_outputs``).
    ``logits``: the cross-entropy network's outputs on ``X``, when already
    computed.
    """
    classes = clf.classes_
    if hasattr(clf, "anchors_"):
        distances = torch.as_tensor(-clf.decision_function(X))
        if len(classes) == 2:
            raise ValueError("outputs_once expects more than 2 classes")
        known = -cac_rejection_score(distances).min(dim=1).values.numpy()
        index = distances.argmin(dim=1).numpy()
    else:
        if logits is None:
            proba = clf.predict_proba(X)
        else:
            proba = torch.softmax(torch.as_tensor(logits).double(), dim=1).numpy()
        known, index = proba.max(axis=1), proba.argmax(axis=1)
    y_pred = classes.astype(object)[index]
    y_pred[known < clf.threshold_] = clf.open_label
    return y_pred, known, classes[index]


def activation_scores_aurocs(av_train, y_train, av_test, y_test):
    """AUROCs of scores computed from a trained network's activations alone.

    ``av_train`` / ``av_test``: the logits (activation vectors) of the
    training and test samples, eval mode, no augmentation; ``y_test`` has the
    unknown samples as -1. ``OpenMaxClassifier(estimator="precomputed")``
    fitted on ``av_train`` is what ``OpenMaxClassifier`` with that network as
    its module computes, without training the network a second time.

    * ``openmax_auroc``: OpenMax with its defaults (the paper's unknown
      probability, eucos distance);
    * ``openmax_neal_auroc``: ``known_score="logsumexp"`` with the euclidean
      distance, the OpenMax score of Neal et al.'s evaluation code (source of
      the published OpenMax AUROCs);
    * ``logsumexp_auroc``: that code's "softmax" score, ``P(unknown)`` of the
      logits and an implicit 0 logit, ``1 / (1 + sum exp)``, monotone in the
      log-sum-exp of the logits.
    """
    labels = np.unique(y_train)

    def auroc(known_scores):
        return unknown_roc_auc_score(y_test, known_scores, labels=labels, open_label=-1)

    aurocs = {"logsumexp_auroc": auroc(logsumexp(av_test, axis=1))}
    variants = {
        "openmax_auroc": {},
        "openmax_neal_auroc": {"known_score": "logsumexp", "distance": "euclidean"},
    }
    for name, params in variants.items():
        openmax = OpenMaxClassifier("precomputed", **params).fit(av_train, y_train)
        aurocs[name] = auroc(openmax.score_samples(av_test))
    return aurocs


def check_outputs(clf, X):
    y_pred, known, closed = outputs_once(clf, X)
    np.testing.assert_array_equal(y_pred, clf.predict(X).astype(object))
    np.testing.assert_allclose(known, clf.score_samples(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(
        closed, clf.classes_[clf.predict_proba(X).argmax(axis=1)]
    )


def metrics(clf, y_test, y_pred, known, closed):
    kwargs = {"labels": clf.classes_, "open_label": -1}
    return {
        "auroc": unknown_roc_auc_score(y_test, known, **kwargs),
        "closed_accuracy": closed_set_accuracy_score(y_test, closed, **kwargs),
        "macro_f1": open_set_f1_score(y_test, y_pred, **kwargs),
        "f1_open": open_set_f1_score(y_test, y_pred, average="open", **kwargs),
        "accuracy": open_set_accuracy_score(y_test, y_pred, **kwargs),
    }


def machine():
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip() for line in f if "model name" in line
            )
    except (OSError, StopIteration):
        cpu = platform.processor()
    import os

    return (
        f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), sklearn_openset "
        f"{sklearn_openset.__version__}"
    )
