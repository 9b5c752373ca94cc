"""Class Anchor Clustering (CAC): distance-based open-set recognition."""

import copy
import math
import warnings
from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .base import BaseDeepOpenSetClassifier
from .utils._docstring import Substitution
from .utils._optional import check_deep_install

__all__ = ["CACClassifier"]


def _step_lr_schedule(max_epochs):
    """The step schedule as a named skorch callback: lr / 10 after half the epochs."""
    import torch
    from skorch.callbacks import LRScheduler

    return (
        "lr_schedule",
        LRScheduler(
            policy=torch.optim.lr_scheduler.StepLR,
            step_size=math.ceil(max_epochs / 2),
            gamma=0.1,
        ),
    )


@Substitution()
class CACClassifier(BaseDeepOpenSetClassifier):
    """Open-set classifier trained with the Class Anchor Clustering loss.

    A network maps each input to logits; the CAC loss pulls the logits of
    every training sample onto a fixed anchor of its class,
    ``magnitude * e_class``, and away from the other anchors. After
    training, each anchor is moved to the mean logit of the correctly
    classified training samples of its class. An input is given the class of
    the nearest anchor, and is rejected (``open_label``) when even its best
    class has a high CAC rejection score, distance times one minus softmin.

    The network is trained through skorch (SGD with momentum at a constant
    learning rate by default, as the reference code trains on MNIST; on CPU
    or GPU). ``module=None`` builds
    an :class:`~sklearn_openset.nn.MLP` for 2-D ``X`` and the
    :class:`~sklearn_openset.nn.Classifier32` CNN for images
    ``(n_samples, channels, height, width)``; any module that outputs one
    logit per class can be given instead.

    Parameters
    ----------
    module : torch.nn.Module, callable or None, default=None
        The backbone: maps an input batch to logits of shape
        ``(n_samples, n_classes)`` (classes in the order of ``classes_``). It
        is wrapped in a :class:`~sklearn_openset.nn.CACNet`, which adds the
        anchors and the distance layer. An instance is deep-copied in
        ``fit``; a class or callable is called without arguments. ``None``
        builds ``MLP(n_features, n_classes)`` (hidden layers (256, 128)) for
        ``X`` of shape ``(n_samples, n_features)`` and ``Classifier32(n_classes,
        in_channels=channels, pooling="flatten")`` for images: the reference
        code's layout, dropout 0.2 after each convolution group and a head
        over the flattened 4x4x128 map (over 128 pooled features, the logits
        need many more steps to reach the anchors).
    magnitude : float, default=10.0
        Anchor magnitude alpha: class ``i`` trains towards ``magnitude * e_i``
        (paper: 10).
    lambda_anchor : float, default=0.1
        Weight lambda of the anchor term of the loss (paper: 0.1).
    threshold : float <= 0, "auto" or None, default="auto"
        Rejection threshold on the scale of :meth:`score_samples`, whose
        values are ``-min_j s_j(x) <= 0``: an input is rejected when
        ``score_samples(x) < threshold_``, i.e. when its CAC rejection score
        ``min_j s_j(x)`` exceeds ``-threshold_``. A distance threshold ``t``
        on the paper's score is thus passed as ``threshold=-t``. The paper
        reports AUROC only and gives no threshold; ``"auto"`` accepts 95% of
        the correctly classified training samples (the threshold is the 5%
        quantile of their ``score_samples``, computed with the final anchors).
        With ``validation_fraction``, it accepts 95% of the correctly
        classified held-out samples instead: a network pulls the samples it
        trained on closer to their anchors than new ones, so on small data
        a threshold from the training samples rejects more than 5% of new
        known inputs, and one from held-out samples does not. ``None``: no
        threshold (nothing is rejected).
    validation_fraction : float in (0, 1) or None, default=None
        ``None`` keeps the weights of the last epoch. A fraction holds out
        that share of the training samples (stratified, drawn with
        ``random_state``), records their anchor loss every epoch
        (``valid_anchor_loss`` in ``net_.history``) and keeps the weights of
        the epoch where it is lowest, as the reference code keeps the
        checkpoint with the lowest validation anchor loss. The held-out
        samples are not trained on; the anchors are computed on all of
        ``X``, and the ``"auto"`` threshold on the held-out samples only
        (see ``threshold``). The default departs from the reference so that
        every sample is trained on, which matters for small data.
    lr_schedule : {"step"} or None, default=None
        ``None`` keeps ``lr`` constant: the reference code's MNIST
        configuration (35 epochs at 0.01, no drop). ``"step"``: ``lr`` for
        the first ``ceil(max_epochs / 2)`` epochs, then ``lr / 10``, by a
        skorch ``LRScheduler`` callback named ``"lr_schedule"``; a one-run
        stand-in for the reference code's second stage on CIFAR and
        TinyImageNet (resumed at 0.001 from the checkpoint of lowest
        validation loss). The paper gives no schedule. On pseudo-open
        validation splits of the training classes
        (``benchmarks/cac/results_validation.md``, 5 seeds) the constant
        rate gave AUROC 0.958 against 0.955 on MNIST (a small CNN, 30
        epochs), 0.892 against 0.881 on the digits and 0.948 against 0.783 on
        CLINC150 sentence embeddings (the default MLP, 70 epochs), where the
        drop after half the epochs leaves the network under-trained; hence
        the default. Add your own scheduler to ``callbacks`` for any other.
    max_epochs : int, default=70
        Training epochs (the reference code's MNIST configuration: 35 over
        MNIST's 50k training images). 0 trains nothing: ``fit`` takes ``module`` as given (a
        network trained elsewhere, e.g. the reference code's) and only
        re-centres the anchors and calibrates the threshold
        (``benchmarks/cac/results_reference_networks.md``). (The reference code's configurations train in two such
        stages on CIFAR and TinyImageNet; on MNIST, 35 epochs at 0.01
        only.) With the
        default MLP this takes seconds for a few thousand samples; datasets
        of a few hundred samples make few steps per epoch and gain from more
        epochs or a smaller ``batch_size``. The default CNN costs about 30 ms
        per image and epoch on one CPU core: on a CPU, images may call for
        fewer epochs (or ``device="cuda"``).
    {lr}
        The initial one (paper: 0.01); see ``lr_schedule``.
    {batch_size}
        Paper: 128.
    {optimizer}
        The default is the paper's optimizer. The reference
        code also uses a weight decay of 5e-6 on MNIST; it is left out here,
        with the reference code's input recipe (see Notes, "Data
        augmentation"); pass an optimizer class with it built in if you need
        it.
    {device}
    {inference_dtype}
    {callbacks}
        They can monitor ``train_anchor_loss``, ``train_tuplet_loss`` and,
        with ``validation_fraction``, ``valid_anchor_loss`` (the weights kept
        are still those of the lowest validation anchor loss).
    {verbose}
        The table has the anchor and tuplet terms of the loss and the
        learning rate.
    {random_state}
        It seeds the weights, the batches and the validation split.
    {open_label}

    Attributes
    ----------
    {classes_}
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the
        :class:`~sklearn_openset.nn.CACNet` with the final anchors and
        ``net_.history`` holds the per-epoch losses and learning rates.
    anchors_ : ndarray of shape (n_classes, n_classes)
        The final anchors, row ``i`` for ``classes_[i]``: the mean logit of
        the correctly classified training samples of that class.
    n_correct_per_class_ : ndarray of shape (n_classes,)
        Number of correctly classified training samples of each class (the
        nearest training anchor is their class), over which the anchors are
        averaged.
    {threshold_}
    best_epoch_ : int
        The epoch whose weights are kept: the one with the lowest validation
        anchor loss with ``validation_fraction``, else the last one.
    {input_shape_}
    {n_features_in_}

    See Also
    --------
    sklearn_openset.nn.CACLoss : the loss.
    sklearn_openset.nn.CACNet : the backbone with the anchor distance layer.
    MSPClassifier : the maximum-softmax baseline.
    OpenMaxClassifier : extreme-value recalibration of the logits.

    Notes
    -----
    Let :math:`\\mathbf{z} = f(\\mathbf{x}) \\in \\mathbb{R}^C` be the logits
    of :math:`\\mathbf{x}` and :math:`\\mathbf{c}_j` the anchor of class
    :math:`j`; :math:`d_j = \\lVert \\mathbf{z} - \\mathbf{c}_j \\rVert_2`.
    During training the anchors are fixed at
    :math:`\\mathbf{c}_j = \\alpha \\mathbf{e}_j` and, for a sample of class
    :math:`y`, the loss is

    .. math::

        L_{CAC} = \\underbrace{\\log\\Bigl(1 + \\sum_{j \\neq y}
        e^{d_y - d_j}\\Bigr)}_{L_T} + \\lambda \\underbrace{d_y}_{L_A},

    averaged over the batch (:class:`~sklearn_openset.nn.CACLoss`). After
    training, :math:`\\mathbf{c}_j` becomes the mean of :math:`\\mathbf{z}`
    over the training samples of class :math:`j` whose nearest anchor is
    :math:`\\mathbf{c}_j` (with the training anchors
    :math:`\\alpha \\mathbf{e}_j`, the nearest anchor is the largest logit,
    the rule of the reference code). A class without such a sample keeps its
    training anchor, with a warning. The rejection score of class :math:`j`
    is

    .. math::

        s_j(\\mathbf{x}) = d_j \\, \\bigl(1 - \\operatorname{softmin}(\\mathbf{d})_j
        \\bigr), \\qquad \\operatorname{softmin}(\\mathbf{d})_j =
        \\frac{e^{-d_j}}{\\sum_k e^{-d_k}},

    and

    .. math::

        \\hat y(\\mathbf{x}) = \\begin{cases}
        \\arg\\min_j d_j & \\text{if } \\min_j s_j(\\mathbf{x}) \\le -t \\\\
        \\text{open\\_label} & \\text{if } \\min_j s_j(\\mathbf{x}) > -t
        \\end{cases}

    with :math:`t` = ``threshold_``. :math:`s_j` increases with :math:`d_j`,
    so the class of lowest score is the nearest one. The methods return:
    ``score_samples`` :math:`= -\\min_j s_j` (higher is more known; the
    unknown score of the paper's AUROC is :math:`\\min_j s_j`),
    ``decision_function`` :math:`= -\\mathbf{d}` and ``predict_proba``
    :math:`= \\operatorname{softmin}(\\mathbf{d})` (closed-set, its arg-max
    is the nearest anchor).

    Inference runs in the network's precision (float32) unless
    ``inference_dtype="float64"``: a sample's score then moves with the other
    samples of its batch by float32 rounding only, at most ``1e-4`` times the
    largest score magnitude (checked by the library's open-set estimator
    checks; measured up to ``1.5e-5``).

    **Data augmentation.** The reference code also standardizes the images
    and trains on random resized crops of them. Here the estimator trains on
    ``X`` as given; augmentation goes into ``module``, as a first layer that
    transforms its input in train mode and passes it through unchanged in
    eval mode (``if not self.training: return x``), e.g.
    ``module=lambda: torch.nn.Sequential(RandomCrops(), backbone(...))``.
    The anchors, the ``"auto"`` threshold and all predictions are computed
    in eval mode, so on the plain inputs, as in the reference code. Draw the
    random numbers from torch's global generator: ``fit`` seeds it from
    ``random_state``. ``benchmarks/cac`` has such a layer and its effect on
    MNIST (``results_quality.md``, the "reference recipe" rows). It is not the
    default: on pseudo-open validation splits of MNIST's training digits
    (``benchmarks/cac/results_validation.md``, a small CNN, 30 epochs, 5
    seeds), the recipe (crops, standardized pixels, weight decay 5e-6) gave
    AUROC 0.950 and macro-F1 0.850 against 0.958 and 0.868 for the images as
    given, at a constant learning rate.

    References
    ----------
    .. [1] D. Miller, N. Sünderhauf, M. Milford and F. Dayoub, "Class Anchor
       Clustering: a Loss for Distance-based Open Set Recognition", WACV 2021.
       https://arxiv.org/abs/2004.02434; reference code
       https://github.com/dimitymiller/cac-openset

    Examples
    --------
    >>> from sklearn_openset import CACClassifier
    >>> from sklearn_openset.datasets import make_open_set_blobs
    >>> X_train, X_test, y_train, y_test = make_open_set_blobs(random_state=0)
    >>> clf = CACClassifier(max_epochs=20, random_state=0).fit(X_train, y_train)
    >>> clf.classes_
    array([0, 1, 2])
    >>> clf.anchors_.shape
    (3, 3)
    >>> y_pred = clf.predict(X_test)  # a class of classes_, or -1
    >>> sorted(set(y_pred.tolist()))
    [-1, 0, 1, 2]
    >>> bool((clf.score_samples(X_test) <= 0).all())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepOpenSetClassifier._parameter_constraints,
        "magnitude": [Interval(Real, 0, None, closed="neither")],
        "lambda_anchor": [Interval(Real, 0, None, closed="left")],
        "threshold": [
            Interval(Real, None, 0, closed="right"),
            StrOptions({"auto"}),
            None,
        ],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "lr_schedule": [StrOptions({"step"}), None],
    }

    def __init__(
        self,
        module=None,
        *,
        magnitude=10.0,
        lambda_anchor=0.1,
        threshold="auto",
        validation_fraction=None,
        lr_schedule=None,
        max_epochs=70,
        lr=0.01,
        batch_size=128,
        optimizer="sgd",
        device="cpu",
        callbacks=None,
        inference_dtype=None,
        verbose=0,
        random_state=None,
        open_label=-1,
    ):
        check_deep_install(self)  # torch and skorch: sets nothing
        self.module = module
        self.magnitude = magnitude
        self.lambda_anchor = lambda_anchor
        self.threshold = threshold
        self.validation_fraction = validation_fraction
        self.lr_schedule = lr_schedule
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.inference_dtype = inference_dtype
        self.verbose = verbose
        self.random_state = random_state
        self.open_label = open_label

    # -- the network ---------------------------------------------------------
    def _wrap_module(self, backbone):
        # Called by the base under the fit's torch seed, after the logit
        # check: the anchor distance layer on top of the backbone.
        from .nn import CACNet

        if isinstance(backbone, CACNet):
            raise TypeError(
                "module must output logits; CACClassifier adds the anchors itself. "
                "Pass the CACNet's backbone instead (module=net.backbone)."
            )
        return CACNet(backbone, len(self.classes_), self.magnitude)

    def _training_callbacks(self, validation):
        # The method's callbacks come first, so that the user's (e.g. an
        # EarlyStopping on "valid_anchor_loss") see the scores they record.
        from skorch.callbacks import EarlyStopping
        from skorch.utils import noop

        callbacks = self._loss_term_callbacks("train_anchor_loss", "train_tuplet_loss")
        if self.lr_schedule == "step" and self.max_epochs > 0:
            callbacks.append(_step_lr_schedule(self.max_epochs))
        if validation:
            callbacks += [
                *self._loss_term_callbacks("valid_anchor_loss", "valid_tuplet_loss"),
                (
                    "keep_best",
                    # Never stops (patience beyond max_epochs); keeps the
                    # weights of the epoch with the lowest validation anchor
                    # loss and loads them at the end of training.
                    EarlyStopping(
                        monitor="valid_anchor_loss",
                        patience=self.max_epochs + 1,
                        threshold=0.0,
                        threshold_mode="abs",
                        load_best=True,
                        sink=print if self.verbose > 0 else noop,
                    ),
                ),
            ]
        return callbacks + self._callbacks()

    # -- fit -----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network with the CAC loss, then set the anchors and threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)
            Training samples of the known classes (any shape the ``module``
            takes; the default network takes vectors or images).
        y : array-like of shape (n_samples,)
            Known-class labels; must not contain ``open_label``.

        Returns
        -------
        self : CACClassifier
            The fitted classifier.
        """
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        from ._deep._cac import _CACNeuralNet
        from ._deep._training import _ArrayBatches
        from .nn import CACLoss

        X, y_encoded = self._validate_fit_data(X, y)
        n_classes = len(self.classes_)
        default_module = self._default_classifier(
            X.shape[1:], n_classes, image_pooling="flatten"
        )
        random_state = check_random_state(self.random_state)

        validation = self.validation_fraction is not None
        train_rows, calibration_rows = self._held_out_rows(
            y_encoded, self.validation_fraction, random_state
        )
        X_fit, y_fit, net_kwargs = X, y_encoded, {}
        if validation:
            X_fit, y_fit = X[train_rows], y_encoded[train_rows]
            net_kwargs["train_split"] = predefined_split(
                Dataset(X[calibration_rows], y_encoded[calibration_rows])
            )

        self._fit_net(
            X_fit,
            y_fit,
            default_module=default_module,
            criterion=CACLoss,
            net_class=_CACNeuralNet,
            random_state=random_state,
            criterion__magnitude=self.magnitude,
            criterion__lambda_anchor=self.lambda_anchor,
            callbacks=self._training_callbacks(validation),
            iterator_train=_ArrayBatches,
            predict_nonlinearity=None,
            **net_kwargs,
        )
        history = self.net_.history
        if not history:  # max_epochs=0: the module as given, untrained
            self.best_epoch_ = 0
        else:
            self.best_epoch_ = int(
                dict(self.net_.callbacks_)["keep_best"].best_epoch_
                if validation
                else history[-1, "epoch"]
            )
        self.input_shape_ = tuple(X.shape[1:])
        self._set_anchors(X, y_encoded, calibration_rows)
        return self

    def _set_anchors(self, X, y_encoded, calibration_rows):
        """Re-centre the anchors on ``X`` and calibrate the threshold.

        The ``"auto"`` threshold is calibrated on ``X[calibration_rows]``:
        all of ``X``, or the held-out samples with ``validation_fraction``.
        """
        import torch

        from .nn import cac_rejection_score

        n_classes = len(self.classes_)
        logits, distances = self._forward(X)
        logits = logits.to(torch.float64)
        correct = distances.argmin(dim=1).numpy() == y_encoded
        self.n_correct_per_class_ = np.bincount(y_encoded[correct], minlength=n_classes)
        module = self.net_.module_
        anchors = module.anchors.detach().cpu().to(torch.float64).clone()
        sums = torch.zeros(n_classes, n_classes, dtype=torch.float64)
        sums.index_add_(0, torch.as_tensor(y_encoded[correct]), logits[correct])
        has_correct = self.n_correct_per_class_ > 0
        counts = torch.as_tensor(self.n_correct_per_class_[has_correct, None])
        anchors[has_correct] = sums[has_correct] / counts
        if not has_correct.all():
            warnings.warn(
                "No training sample of class(es) "
                f"{self.classes_[~has_correct].tolist()!r} is classified correctly; "
                "their anchors stay at the training anchors magnitude * e_class. "
                "Train longer or give more samples of these classes.",
                UserWarning,
            )
        module.set_anchors(anchors)
        self.anchors_ = module.anchors.detach().cpu().numpy().astype(np.float64)

        if isinstance(self.threshold, str):
            # Scores with the final anchors, computed from the logits as the
            # distance layer of the fitted module does in _forward.
            layer = copy.deepcopy(module.distance).to(device="cpu", dtype=logits.dtype)
            with torch.no_grad():
                new_distances = layer(logits[torch.as_tensor(calibration_rows)])
            scores = -cac_rejection_score(new_distances).min(dim=1).values.numpy()
            correct = new_distances.argmin(dim=1).numpy() == y_encoded[calibration_rows]
            self._calibrate_threshold(scores, correct)
        else:
            self._calibrate_threshold()

    # -- prediction ----------------------------------------------------------
    def _distances(self, X):
        """Distances ``(n_samples, n_classes)`` to the final anchors, as a tensor."""
        import torch

        X = self._validate_predict_data(X)
        _, distances = self._forward(X)
        return distances.to(torch.float64)

    def _open_set_parts(self, X):
        from .nn import cac_rejection_score

        distances = self._distances(X)
        scores = cac_rejection_score(distances)
        return (
            distances.argmin(dim=1).numpy(),
            -scores.min(dim=1).values.numpy(),
            None,
        )

    def predict_proba(self, X):
        """Closed-set probabilities: the softmin of the distances to the anchors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)
            The input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            ``exp(-d_j) / sum_k exp(-d_k)``, columns in the order of
            ``classes_``; rows sum to 1. It ignores the open class: its
            arg-max is the nearest anchor, also for inputs that ``predict``
            rejects.
        """
        import torch

        return torch.softmax(-self._distances(X), dim=1).numpy()

    def decision_function(self, X):
        """Minus the distance from the logits to each class anchor.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            ``-d_j``, one column per known class; higher is nearer. With two
            classes, scikit-learn's binary convention: the score of
            ``classes_[1]`` minus that of ``classes_[0]``, ``d_0 - d_1``,
            shape (n_samples,). It is not the unknown score (see
            :meth:`score_samples`).
        """
        scores = -self._distances(X).numpy()
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def score_samples(self, X):
        """Known-ness score: minus the lowest CAC rejection score.

        ``-min_j d_j (1 - softmin(d)_j)``, at most 0; higher means more like
        the known classes. The unknown score of the paper's AUROC is its
        negative.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The known-ness score of each sample.
        """
        return super().score_samples(X)
