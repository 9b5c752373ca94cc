"""CROSR: classification-reconstruction learning for open-set recognition."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.special import softmax
from sklearn.base import _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .base import THRESHOLD_CONSTRAINT, BaseDeepOpenSetClassifier
from .evt import OpenMaxRecalibration
from .utils._docstring import Substitution
from .utils._optional import check_deep_install
from .utils._validation import encode_open_set

__all__ = ["CROSRClassifier"]


def _uses_openmax(estimator):
    return estimator.detector == "openmax"


@Substitution()
class CROSRClassifier(BaseDeepOpenSetClassifier):
    r"""Open-set classifier trained to classify and to reconstruct its input (CROSR).

    A Deep Hierarchical Reconstruction Net (DHRNet) learns to classify the
    known classes and, from small latent codes :math:`z` taken after each
    encoder stage, to reconstruct the input. The latent codes keep
    information that classification alone throws away, and that tells inputs
    of unknown classes apart. After training, OpenMax's recalibration runs on
    the concatenation :math:`[y, z]` of the logits and the pooled latent
    codes: the Weibull models of the distances to the class means are fitted
    on :math:`[y, z]` and recalibrate the logits :math:`y`, giving
    probabilities over the known classes plus an explicit unknown class. Any
    scikit-learn outlier detector can replace the Weibull models
    (``detector``), fitted per class on :math:`[y, z]`.

    ``module=None`` builds the paper's :class:`~sklearn_openset.nn.DHRNet`
    for images ``(n_samples, channels, height, width)`` and a
    :class:`~sklearn_openset.nn.VectorDHRNet` for 2-D ``X`` (e.g. sentence
    embeddings from :class:`~sklearn_openset.feature_extraction.TextEmbedder`).
    The network is trained through skorch, on CPU or GPU.

    Parameters
    ----------
    module : torch.nn.Module, callable or None, default=None
        The DHRNet. Its ``forward`` returns ``(logits, latent,
        reconstruction)``: logits ``(n_samples, n_classes)``, the pooled
        latent codes ``(n_samples, latent_dim)`` and the reconstruction, of
        the shape of the input. A ``classify`` method returning ``(logits,
        latent)`` without running the decoder is used at inference when the
        module has one (the library's DHRNets do). An ``nn.Module`` instance
        is deep-copied in ``fit``; a class or callable is called without
        arguments.
    detector : "openmax" or outlier detector, default="openmax"
        The unknown detector on :math:`[y, z]`. ``"openmax"``: the paper's
        Weibull recalibration (:class:`~sklearn_openset.evt.OpenMaxRecalibration`).
        An estimator with ``fit`` and ``decision_function`` (``OneClassSVM``,
        ``IsolationForest``, ``LocalOutlierFactor(novelty=True)``, or a
        ``Pipeline`` ending in one, e.g. after a ``StandardScaler``): one
        clone is fitted per class on the :math:`[y, z]` of the class's
        correctly classified training samples (the paper's Table 6 compares
        such detectors). ``predict_open_proba`` needs ``"openmax"``.
    tail_size : int, default=20
        Number of largest distances per class fitted by each Weibull (paper:
        20). Used by ``detector="openmax"``.
    alpha_rank : "auto", int or None, default="auto"
        Number of top classes whose logit is recalibrated. ``None`` turns
        OpenMax's rank calibration off: every logit is damped by its own
        W-score, as the paper does on its benchmarks of at most 10 classes.
        ``"auto"``: off for up to 10 classes (the paper's setting), OpenMax's
        10 above. Off with many classes breaks the detector: the unknown
        logit :math:`\sum_j y_j w_j` then sums the negative logits of every
        far class, the unknown probability underflows to 0 for every input
        and ``score_samples`` is constant, so it ranks nothing (seen on
        CLINC150 with 75 known intents; with 10, AUROC 0.73 there,
        ``benchmarks/crosr/results_clinc_frozen.md``).
    distance : {"euclidean", "eucos", "cosine"}, default="euclidean"
        Distance between :math:`[y, z]` and a class mean. OpenMax's
        ``"eucos"`` scales the euclidean part by 1/200 for ImageNet logits;
        the latent codes have another scale, and the plain euclidean
        distance needs no such constant (the paper does not name one).
    epsilon : float in [0, 1], default=0.0
        OpenMax's threshold on the top open-set probability (see
        Notes). Used by ``detector="openmax"``.
    threshold : float, "auto" or None, default="auto"
        Threshold on :meth:`score_samples`, the one meaning of ``threshold``
        in the library: ``predict`` also rejects where ``score_samples(X) <
        threshold_``. ``"auto"``: accepts 95 % of the correctly classified
        training samples. ``None``: only the method's own rule rejects (the
        paper's decision, see Notes). A number is used as it is (``0.5``
        rejects where the unknown probability exceeds one half). ``"auto"``
        departs from the paper because its rule rejects too little wherever
        it was measured (``benchmarks/crosr``): macro-F1 on MNIST with
        Noise / MNIST-noise outliers 0.952 / 0.931 with ``"auto"`` against
        0.764 / 0.650 with the paper's rule (published CROSR: 0.826 /
        0.827); open-set DBpedia 4/12 0.855 against 0.428 with the rule and
        a 0.5 threshold; the score itself ranks unknowns well.
    classification_weight : float, default=1.0
        Weight of the cross-entropy in the training loss (paper: 1.0).
    reconstruction_weight : float, default=1.0
        Weight of the L2 reconstruction error (paper: 1.0).
    {max_epochs}
        With 0, ``module`` is a trained network with the outputs above (e.g.
        a :class:`~sklearn_openset.nn.DHRNet` whose ``state_dict`` was
        loaded): ``fit`` only fits the detector on its logits and latent
        codes (what :meth:`fit_detector` does).
    {lr}
    {batch_size}
    {optimizer}
        The paper does not state its optimizer; Adam trains the DHRNets in few
        epochs without tuning.
    {device}
    {callbacks}
        They can monitor the two terms of the loss, averaged per epoch:
        ``train_classification_loss`` and ``train_reconstruction_loss``.
    {inference_dtype}
    {verbose}
    {random_state}
        It also seeds the per-class detectors' clones that take a
        ``random_state`` (from a generator of their own, so that
        :meth:`fit_detector` on the training samples repeats ``fit``'s).
    {open_label}

    Attributes
    ----------
    {classes_}
    net_ : skorch.NeuralNet
        The trained network; its history has the two loss terms per epoch.
    recalibration_ : OpenMaxRecalibration or None
        The fitted OpenMax engine on :math:`[y, z]` (``detector="openmax"``).
    detectors_ : list of estimators or None
        One fitted detector per class (another ``detector``).
    n_correct_per_class_ : ndarray of shape (n_classes,)
        Correctly classified training samples per class.
    alpha_rank_ : int or None
        The rank calibration in use (``alpha_rank`` with ``"auto"`` resolved).
    latent_dim_ : int
        Size of the pooled latent vector :math:`z`.
    {threshold_}
    {input_shape_}
    {n_features_in_}

    See Also
    --------
    sklearn_openset.nn.DHRNet : The network, with its equations.
    OpenMaxClassifier : OpenMax on the logits alone.
    sklearn_openset.evt.OpenMaxRecalibration : The recalibration engine.

    Notes
    -----
    **Training.** With :math:`y(x)` the logits, :math:`\tilde x` the
    reconstruction from the latent codes :math:`z_l` of every stage and
    :math:`t` the class, the network minimizes

    .. math:: \lambda_c \, \mathrm{CE}(y(x), t)
              + \lambda_r \, \lVert \tilde x - x \rVert_2^2 / d

    (:class:`~sklearn_openset.nn.DHRNetLoss`, mean over the batch and the
    :math:`d` input values).

    **Detection.** Let :math:`f(x) = [y(x), z(x)]`, with :math:`z(x)` the
    pooled latent codes (global max pooling over space for images), and
    :math:`\mu_j` the mean of :math:`f` over the correctly classified
    training samples of class :math:`j`. OpenMax's Weibull CDF of
    :math:`d(f(x), \mu_j)` gives the W-score :math:`w_j(x)`; with the rank
    calibration off (the default for up to 10 classes) the logits become
    :math:`\hat y_j = y_j (1 - w_j)`, the unknown class gets
    :math:`\hat y_0 = \sum_j y_j w_j` (with ``alpha_rank`` an int, OpenMax's
    rank weights apply; see
    :class:`~sklearn_openset.evt.OpenMaxRecalibration`), and
    :meth:`predict_open_proba` is the softmax of
    :math:`(\hat y_1, \ldots, \hat y_C, \hat y_0)`.
    :meth:`score_samples` is :math:`1 - P(y = 0 \mid x)`.

    **Rejection.** ``predict`` returns the class of the largest known
    probability (``detector="openmax"``) or of the largest logit (another
    detector), or ``open_label`` where a rule rejects:

    - the method's own rule: with ``"openmax"``, the unknown class has the
      highest probability or the top probability is below ``epsilon``
      (OpenMax's rule, which the paper uses); with another detector, the
      detector of the predicted class calls the input an outlier
      (``decision_function < 0``, which is then :meth:`score_samples`);
    - the library's threshold: ``score_samples(X) < threshold_``.

    The decoder runs in training only: inference costs the encoder and the
    lateral convolutions (``classify``).

    References
    ----------
    .. [1] R. Yoshihashi, W. Shao, R. Kawakami, S. You, M. Iida and T.
       Naemura, "Classification-Reconstruction Learning for Open-Set
       Recognition", CVPR 2019.
    .. [2] A. Bendale and T. E. Boult, "Towards Open Set Deep Networks",
       CVPR 2016.

    Examples
    --------
    >>> from sklearn_openset import CROSRClassifier
    >>> from sklearn_openset.datasets import make_open_set_blobs
    >>> X_train, X_test, y_train, y_test = make_open_set_blobs(
    ...     n_features=8, random_state=0)
    >>> clf = CROSRClassifier(max_epochs=5, tail_size=10, random_state=0)
    >>> clf = clf.fit(X_train, y_train)
    >>> clf.predict_open_proba(X_test).shape
    (180, 4)
    >>> y_pred = clf.predict(X_test)  # a class of classes_, or -1
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepOpenSetClassifier._parameter_constraints,
        "detector": [StrOptions({"openmax"}), HasMethods(["fit", "decision_function"])],
        "tail_size": [Interval(Integral, 2, None, closed="left")],
        "alpha_rank": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "distance": [StrOptions({"eucos", "euclidean", "cosine"})],
        "epsilon": [Interval(Real, 0, 1, closed="both")],
        "threshold": THRESHOLD_CONSTRAINT,
        "classification_weight": [Interval(Real, 0, None, closed="left")],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        module=None,
        *,
        detector="openmax",
        tail_size=20,
        alpha_rank="auto",
        distance="euclidean",
        epsilon=0.0,
        threshold="auto",
        classification_weight=1.0,
        reconstruction_weight=1.0,
        max_epochs=30,
        lr=1e-3,
        batch_size=128,
        optimizer="adam",
        device="cpu",
        callbacks=None,
        inference_dtype=None,
        verbose=0,
        random_state=None,
        open_label=-1,
    ):
        check_deep_install(self)  # torch and skorch: sets nothing
        self.module = module
        self.detector = detector
        self.tail_size = tail_size
        self.alpha_rank = alpha_rank
        self.distance = distance
        self.epsilon = epsilon
        self.threshold = threshold
        self.classification_weight = classification_weight
        self.reconstruction_weight = reconstruction_weight
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
    def _default_dhrnet(self, input_shape, n_classes):
        from .nn import DHRNet, VectorDHRNet

        return self._default_network(
            input_shape,
            vector=lambda n_features: VectorDHRNet(n_features, n_classes),
            image=lambda channels, *size: DHRNet(
                n_classes, in_channels=channels, image_size=size
            ),
        )

    def _check_module_output(self, output, X_probe):
        if not isinstance(output, tuple) or len(output) != 3:
            raise ValueError(
                "module must return (logits, latent, reconstruction) from forward, "
                f"got {type(output).__name__}"
                + (f" of {len(output)} outputs" if isinstance(output, tuple) else "")
                + ". Use sklearn_openset.nn.DHRNet or VectorDHRNet, or a module "
                "with the same outputs."
            )
        _, latent, reconstruction = output
        if latent.ndim != 2 or latent.shape[0] != len(X_probe):
            raise ValueError(
                "module's second output (the pooled latent codes) must have shape "
                f"(n_samples, latent_dim), got {tuple(latent.shape)} for "
                f"{len(X_probe)} samples."
            )
        if tuple(reconstruction.shape) != tuple(X_probe.shape):
            raise ValueError(
                "module's third output (the reconstruction) must have the shape of "
                f"the input, {tuple(X_probe.shape)}; got "
                f"{tuple(reconstruction.shape)}."
            )

    def _logits_and_latent(self, X):
        """Logits and pooled latent codes of validated ``X``, float64 numpy."""
        has_classify = callable(getattr(self.net_.module_, "classify", None))
        outputs = self._forward(X, method="classify" if has_classify else None)
        logits, latent = (part.numpy().astype(np.float64) for part in outputs[:2])
        return logits, latent

    # -- fit -----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Train the DHRNet, then fit the detector on the logits and latent codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)
            Training samples of the known classes.
        y : array-like of shape (n_samples,)
            Known-class labels; must not contain ``open_label``.

        Returns
        -------
        self : CROSRClassifier
            The fitted classifier.
        """
        from ._deep._crosr import _CROSRNeuralNet
        from ._deep._training import _ArrayBatches
        from .nn import DHRNetLoss

        X, y_encoded = self._validate_fit_data(X, y)
        n_classes = len(self.classes_)
        random_state = check_random_state(self.random_state)
        self._fit_net(
            X,
            y_encoded,
            default_module=self._default_dhrnet(X.shape[1:], n_classes),
            criterion=DHRNetLoss,
            net_class=_CROSRNeuralNet,
            random_state=random_state,
            criterion__classification_weight=self.classification_weight,
            criterion__reconstruction_weight=self.reconstruction_weight,
            callbacks=[
                *self._loss_term_callbacks(
                    "train_classification_loss", "train_reconstruction_loss"
                ),
                *self._callbacks(),
            ],
            iterator_train=_ArrayBatches,
            predict_nonlinearity=None,
        )
        self._fit_detector(X, y_encoded)
        return self

    def fit_detector(self, X, y):
        """Fit the unknown detector again on the trained network, without training it.

        ``fit`` trains the network and then fits the detector on the
        training samples; this does the second part alone, so that another
        ``detector``, ``tail_size``, ``alpha_rank``, ``distance`` or
        ``threshold`` (set with ``set_params``) can be tried on a fitted
        classifier at the cost of one pass over ``X``. With the training
        samples, it gives what ``fit`` with those parameters would (same
        ``random_state``, on CPU).

        Parameters
        ----------
        X : array-like of the shape of the training samples
            Samples of the known classes.
        y : array-like of shape (n_samples,)
            Their labels, all in ``classes_``.

        Returns
        -------
        self : CROSRClassifier
            The classifier with its detector and ``threshold_`` refitted.
        """
        check_is_fitted(self, "net_")
        self._validate_params()
        X = self._validate_predict_data(X)
        y_encoded = encode_open_set(y, self.classes_)
        unknown = y_encoded == len(self.classes_)
        if unknown.any() or len(y_encoded) != len(X):
            raise ValueError(
                "y must hold one label of classes_ per sample of X; got "
                f"{len(y_encoded)} labels for {len(X)} samples, "
                f"{int(unknown.sum())} of them not in classes_."
            )
        self._fit_detector(X, y_encoded)
        return self

    def _fit_detector(self, X, y_encoded):
        """The detector and threshold on the network's outputs for validated ``X``."""
        logits, latent = self._logits_and_latent(X)
        self.latent_dim_ = latent.shape[1]
        features = np.hstack([logits, latent])
        correct = np.argmax(logits, axis=1) == y_encoded
        self.n_correct_per_class_ = np.bincount(
            y_encoded[correct], minlength=len(self.classes_)
        )
        self.recalibration_ = self.detectors_ = None
        self.alpha_rank_ = self.alpha_rank
        if self.alpha_rank == "auto":
            self.alpha_rank_ = None if len(self.classes_) <= 10 else 10
        if _uses_openmax(self):
            self.recalibration_ = OpenMaxRecalibration(
                tail_size=self.tail_size,
                alpha_rank=self.alpha_rank_,
                distance=self.distance,
            ).fit(logits, y_encoded, features=features, class_labels=self.classes_)
        else:
            self.detectors_ = self._fit_detectors(
                features, y_encoded, correct, check_random_state(self.random_state)
            )
        if isinstance(self.threshold, str):
            _, scores, _ = self._parts_from_outputs(logits, latent)
            self._calibrate_threshold(scores, correct)
        else:
            self._calibrate_threshold()

    def _fit_detectors(self, features, y_encoded, correct, random_state):
        empty = np.flatnonzero(self.n_correct_per_class_ == 0)
        if empty.size:
            raise ValueError(
                "CROSR fits its detector on the correctly classified training "
                "samples of each class; none of class(es) "
                f"{self.classes_[empty].tolist()!r} is. Train longer (max_epochs) "
                "or give more samples of these classes."
            )
        detectors = []
        for c in range(len(self.classes_)):
            detector = clone(self.detector)
            if "random_state" in detector.get_params():
                detector.set_params(
                    random_state=random_state.randint(np.iinfo(np.int32).max)
                )
            detectors.append(detector.fit(features[correct & (y_encoded == c)]))
        return detectors

    # -- prediction ----------------------------------------------------------
    def _outputs(self, X):
        return self._logits_and_latent(self._validate_predict_data(X))

    def _parts_from_outputs(self, logits, latent):
        features = np.hstack([logits, latent])
        if _uses_openmax(self):
            out = self.recalibration_.recalibrate(logits, features)
            return (
                out.closed_set_index(),
                out.known_score,
                out.openmax_rejection(self.epsilon),
            )
        index = np.argmax(logits, axis=1)
        scores = np.empty(len(index))
        for c, detector in enumerate(self.detectors_):
            rows = np.flatnonzero(index == c)
            if rows.size:
                scores[rows] = detector.decision_function(features[rows])
        return index, scores, scores < 0

    def _open_set_parts(self, X):
        return self._parts_from_outputs(*self._outputs(X))

    @available_if(_uses_openmax)
    def predict_open_proba(self, X):
        """Probabilities over the known classes and the unknown class.

        Only with ``detector="openmax"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes + 1)
            Columns follow ``classes_``; the last column is the unknown class.
        """
        return self._recalibrated(X)[1].proba

    def _recalibrated(self, X):
        logits, latent = self._outputs(X)
        if not _uses_openmax(self):
            return logits, None
        return logits, self.recalibration_.recalibrate(
            logits, np.hstack([logits, latent])
        )

    def predict_proba(self, X):
        """Closed-set probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            With ``"openmax"``, the known-class open-set probabilities
            renormalized to sum to 1; with another detector, the softmax of
            the logits.
        """
        logits, out = self._recalibrated(X)
        return softmax(logits, axis=1) if out is None else out.closed_set_proba()

    def decision_function(self, X):
        """Per-class scores: the recalibrated logits (``"openmax"``) or the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            One column per known class; with two classes, scikit-learn's
            binary convention (the score of ``classes_[1]`` minus that of
            ``classes_[0]``). It is not the unknown score (see
            :meth:`score_samples`).
        """
        logits, out = self._recalibrated(X)
        scores = logits if out is None else out.logits
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def reconstruct(self, X):
        """The network's reconstruction of ``X`` (runs the decoder).

        Parameters
        ----------
        X : array-like of the shape of the training samples

        Returns
        -------
        reconstruction : ndarray of the shape of ``X``, float32
        """
        X = self._validate_predict_data(X)
        return self._forward(X)[2].numpy()
