"""OpenMax: extreme-value recalibration of activation vectors."""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import validate_data

from .base import THRESHOLD_CONSTRAINT, BaseDeepOpenSetClassifier
from .evt import OpenMaxRecalibration
from .utils._docstring import Substitution
from .utils._optional import import_torch
from .utils._validation import check_fitted_classes

__all__ = ["OpenMaxClassifier"]

# Rows per chunk at prediction: bounds memory (a few arrays of chunk x classes)
# whatever the number of samples; each sample is scored on its own, so chunking
# never changes a score.
_CHUNK_ROWS = 2**15


@Substitution()
class OpenMaxClassifier(BaseDeepOpenSetClassifier):
    """Open-set classifier recalibrating class activations with extreme value theory.

    OpenMax fits, per class, a Weibull distribution to the largest distances
    between the activation vectors (AVs) of correctly classified training
    samples and their class mean. At prediction, the top ``alpha_rank``
    activations of a sample are reduced by the probability that its distance
    to the class mean is extreme; the removed mass becomes the activation of
    an explicit "unknown" class, and a softmax over the C + 1 activations gives
    :meth:`predict_open_proba`.

    The AVs come from any scikit-learn classifier (its ``decision_function``,
    else its log-probabilities), from precomputed logits, or from the default
    network, a torch MLP (vectors) or the classifier32 CNN (images) trained
    with cross-entropy through skorch.

    Parameters
    ----------
    estimator : classifier, "precomputed" or None, default=None
        Where the activation vectors come from. A scikit-learn classifier with
        ``decision_function`` or ``predict_proba`` is cloned and fitted; its
        decision function gives the AVs (a binary one, ``d``, gives
        ``(-d/2, d/2)``), else its log-probabilities, clipped below at
        ``log(eps)`` so that zero probabilities stay finite. A classifier
        already fitted and wrapped in :class:`sklearn.frozen.FrozenEstimator`
        is used as it is: ``fit`` does not refit it and fits only the class
        means and Weibull models on its AVs; its ``classes_`` must be the
        classes of ``y``.
        ``"precomputed"``: ``X`` already holds the AVs, one column per class
        in the order of ``np.unique(y)``. ``None`` trains the default network
        on ``X`` (the ``module`` ... ``random_state`` parameters apply to it
        only).
    tail_size : int, default=20
        Number of largest distances per class fitted by the Weibull (paper:
        20). A class with fewer correctly classified training samples uses
        what it has and warns.
    alpha_rank : int, default=10
        Number of top classes whose activation is recalibrated (paper: 10;
        capped at the number of classes).
    distance : {"eucos", "euclidean", "cosine"}, default="eucos"
        Distance between an AV and a class mean. ``"eucos"`` is
        euclidean / 200 + cosine, as in the original code.
    epsilon : float in [0, 1], default=0.0
        The paper's threshold on the top OpenMax probability: OpenMax's own
        rule rejects an input when the unknown class has the highest OpenMax
        probability, or when the top probability is below ``epsilon``. The
        paper tunes epsilon per dataset and gives no general value; 0 keeps
        only the parameter-free "unknown wins" rule. Tune it with
        :class:`~sklearn_openset.model_selection.PseudoOpenSetSplit`.
    threshold : float, "auto" or None, default=None
        Threshold on :meth:`score_samples`, the one meaning of ``threshold``
        in this library: ``predict`` also rejects an input where
        ``score_samples(X) < threshold_``. ``None``: no such threshold, only
        OpenMax's own rule rejects (the paper's method; see Notes for why it
        is the default). ``"auto"``: ``threshold_`` accepts 95% of the
        correctly classified training samples (the 5% quantile of their
        ``score_samples``), the rule shared by every estimator of the
        library. A number is used as it is, in the units of
        :meth:`score_samples` (so of ``known_score``).
    translate_amount : int, default=1
        Shift of the Weibull fit (libMR's default, used by the original code).
    known_score : {"probability", "logsumexp"}, default="probability"
        What :meth:`score_samples` returns. ``"probability"``: one minus
        the OpenMax probability of the unknown class (Bendale & Boult).
        ``"logsumexp"``: the log-sum-exp of the activations, each damped by
        its class's W-score, with no alpha ranking: how the evaluation code of
        Neal et al. (2018) scores OpenMax, the source of the OpenMax AUROCs
        that later papers quote (e.g. MNIST 0.981 in the CAC paper's Table 2).
        Only :meth:`score_samples` (and so a ``threshold``) changes; the
        probabilities and OpenMax's own rule stay the paper's. See Notes.
    module : torch.nn.Module, callable or None, default=None
        The default network's module; ``None`` builds an
        :class:`~sklearn_openset.nn.MLP` with hidden layers (256, 128) for
        2-D inputs and :class:`~sklearn_openset.nn.Classifier32` for image
        inputs ``(n, channels, height, width)``. Must output one logit per
        class.
    {max_epochs}
    {lr}
    {batch_size}
    {optimizer}
        The original OpenMax used a pretrained Caffe AlexNet; Adam trains
        the small default networks in few epochs without tuning.
    {device}
    {inference_dtype}
    {callbacks}
    {verbose}
    {random_state}
        Only the default network's training uses it: a stochastic
        ``estimator`` keeps its own ``random_state`` (its clone is fitted
        with it untouched).
    {open_label}

    Attributes
    ----------
    {classes_}
    estimator_ : classifier or None
        The fitted scikit-learn classifier (None for the default network and
        precomputed AVs); a ``FrozenEstimator`` is ``estimator`` itself.
    net_ : skorch.NeuralNet
        The trained default network (only when ``estimator=None``).
    recalibration_ : OpenMaxRecalibration
        The fitted recalibration engine (class means, Weibulls, equations).
    mean_activation_vectors_ : ndarray of shape (n_classes, n_classes)
        Mean AV of the correctly classified training samples of each class
        (``recalibration_.class_means_``).
    weibull_ : WeibullTailFitter
        The per-class Weibull models of the distances
        (``recalibration_.weibull_``).
    n_correct_per_class_ : ndarray of shape (n_classes,)
        Number of correctly classified training samples of each class.
    {threshold_}
    {input_shape_}
    {n_features_in_}

    See Also
    --------
    sklearn_openset.evt.OpenMaxRecalibration : the recalibration engine, with
        the equations.
    sklearn_openset.evt.WeibullTailFitter : the Weibull engine (libMR's FitHigh).
    MSPClassifier : the maximum-softmax baseline.

    Notes
    -----
    The recalibration is :class:`~sklearn_openset.evt.OpenMaxRecalibration`
    with the AVs as both the logits and the distance features; its Notes give
    the equations. In short, with :math:`v(x)` the AV of :math:`x`,
    :math:`\\mu_j` the mean AV of the correctly classified training samples
    of class :math:`j` and :math:`w_j(x)` the Weibull CDF of
    :math:`d(v(x), \\mu_j)`, the top ``alpha_rank`` activations are damped,
    :math:`\\hat v_j = v_j (1 - \\frac{\\alpha - i + 1}{\\alpha} w_j)` for
    the class of rank :math:`i`, the removed mass
    :math:`\\hat v_0 = \\sum_j (v_j - \\hat v_j)` is the activation of the
    unknown class, and :meth:`predict_open_proba` is the softmax of
    :math:`(\\hat v_1, \\ldots, \\hat v_C, \\hat v_0)`.
    ``score_samples`` is :math:`1 - P(y = 0 \\mid x)`, or with
    ``known_score="logsumexp"``
    :math:`\\log \\sum_j \\exp\\left(v_j(x) (1 - w_j(x))\\right)`, every
    class damped by its own W-score, whatever its rank. The latter is how
    the public evaluation code of Neal et al. [3]_ (``openset_weibull`` in
    their repository lwneal/counterfactual-open-set) scores OpenMax, there
    with the euclidean distance (``distance="euclidean"``); the OpenMax
    AUROCs that the CAC paper quotes (MNIST 0.981) are theirs. The paper's
    probability and this score rank unknown inputs differently; the
    probability stays the default because it is the method's own
    definition.

    **Rejection.** ``predict`` returns the class of the largest known
    probability, or ``open_label`` where either rule rejects:

    - OpenMax's own rule (the paper's): the unknown class has the highest
      OpenMax probability, or the top probability is below ``epsilon``;
    - the library's threshold on the score: ``score_samples(X) <
      threshold_``.

    ``threshold=None`` is the default because OpenMax models the unknown
    class explicitly: its own rule is the paper's decision and needs no
    calibration, while a threshold calibrated on top of it (``"auto"``)
    rejects the 5% least known of the correctly classified training
    samples, whether the paper's rule accepts them or not. With
    the default ``known_score``, ``threshold=t`` rejects where
    :math:`P(y = 0 \\mid x) > 1 - t`, so ``threshold=0.5`` adds "the
    unknown probability is above one half" to the paper's rule. Either
    threshold can be chosen after fit (``threshold_`` from
    :meth:`score_samples` alone, ``epsilon`` by ``set_params``): neither
    changes the fitted model.

    The Weibull fit reproduces libMR's ``FitHigh`` (the library of the
    original code) to floating-point precision; the end-to-end
    probabilities match a run of the original algorithm to 1e-14 (the
    departures from the original code are listed in the engine's Notes).
    Each sample is recalibrated on its own, and large inputs are processed in
    chunks. Over a scikit-learn estimator or precomputed activations, results
    never depend on the other samples of the batch; the default network runs
    in float32 unless ``inference_dtype="float64"``, and its activations then
    move with the batch by float32 rounding only (at most ``1e-4`` times the
    largest score magnitude, checked by the library's open-set checks).

    References
    ----------
    .. [1] A. Bendale and T. E. Boult, "Towards Open Set Deep Networks",
       CVPR 2016.
    .. [2] W. J. Scheirer, A. Rocha, R. J. Micheals and T. E. Boult,
       "Meta-Recognition: The Theory and Practice of Recognition Score
       Analysis", IEEE TPAMI 33(8), 2011 (libMR).
    .. [3] L. Neal, M. Olson, X. Fern, W.-K. Wong and F. Li, "Open Set
       Learning with Counterfactual Images", ECCV 2018.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_openset import OpenMaxClassifier
    >>> from sklearn_openset.datasets import make_open_set_blobs
    >>> X_train, X_test, y_train, y_test = make_open_set_blobs(
    ...     n_features=4, random_state=0)
    >>> clf = OpenMaxClassifier(LogisticRegression(), tail_size=10)
    >>> clf = clf.fit(X_train, y_train)
    >>> clf.predict_open_proba(X_test).shape
    (180, 4)
    >>> y_pred = clf.predict(X_test)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepOpenSetClassifier._parameter_constraints,
        "estimator": [
            HasMethods(["fit", "decision_function"]),
            HasMethods(["fit", "predict_proba"]),
            StrOptions({"precomputed"}),
            None,
        ],
        "tail_size": [Interval(Integral, 2, None, closed="left")],
        "alpha_rank": [Interval(Integral, 1, None, closed="left")],
        "distance": [StrOptions({"eucos", "euclidean", "cosine"})],
        "epsilon": [Interval(Real, 0, 1, closed="both")],
        "threshold": THRESHOLD_CONSTRAINT,
        "translate_amount": [Interval(Integral, 1, None, closed="left")],
        "known_score": [StrOptions({"probability", "logsumexp"})],
    }

    def __init__(
        self,
        estimator=None,
        *,
        tail_size=20,
        alpha_rank=10,
        distance="eucos",
        epsilon=0.0,
        threshold=None,
        translate_amount=1,
        known_score="probability",
        module=None,
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
        self.estimator = estimator
        self.tail_size = tail_size
        self.alpha_rank = alpha_rank
        self.distance = distance
        self.epsilon = epsilon
        self.threshold = threshold
        self.translate_amount = translate_amount
        self.known_score = known_score
        self.module = module
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

    # -- activation vectors ---------------------------------------------------
    def _fit_activation_model(self, X, y, y_encoded, random_state):
        n_classes = len(self.classes_)
        self.estimator_ = None
        if self.estimator is None:
            # The default network: torch only here (the deep extra).
            torch = import_torch("OpenMaxClassifier with estimator=None")
            self._fit_net(
                X,
                y_encoded,
                default_module=self._default_classifier(X.shape[1:], n_classes),
                criterion=torch.nn.CrossEntropyLoss,
                random_state=random_state,
            )
        elif isinstance(self.estimator, str):
            if X.ndim != 2 or X.shape[1] != n_classes:
                raise ValueError(
                    "With estimator='precomputed', X holds activation vectors: one "
                    f"column per class ({n_classes} classes in y), got X of shape "
                    f"{X.shape}."
                )
        else:
            # clone gives a FrozenEstimator itself back, whose fit does nothing.
            self.estimator_ = clone(self.estimator).fit(X, y)
            check_fitted_classes(self.estimator_, self.classes_, "OpenMaxClassifier")

    def _activation_vectors(self, X):
        """AVs ``(n_samples, n_classes)``, float64, of validated ``X``."""
        if self.estimator is None:
            return self._forward(X).numpy().astype(np.float64)
        if isinstance(self.estimator, str):
            return np.asarray(X, dtype=np.float64)
        if hasattr(self.estimator_, "decision_function"):
            av = np.asarray(self.estimator_.decision_function(X), dtype=np.float64)
            if av.ndim == 1:
                # A binary decision function d gives the logits (-d/2, d/2):
                # the same softmax as the classifier, symmetric in the classes.
                av = np.column_stack([-av / 2.0, av / 2.0])
            return av
        # Probabilities of exactly 0 (trees, k-NN) would give -inf activations
        # and NaN distances: clip them at machine epsilon first.
        proba = self.estimator_.predict_proba(X)
        return np.log(np.clip(proba, np.finfo(np.float64).eps, None))

    def _validate_X(self, X, *, reset, y=None):
        network = self.estimator is None
        kwargs = {
            "dtype": np.float32 if network else np.float64,
            "allow_nd": network,
        }
        if reset:
            return validate_data(self, X, y, ensure_min_samples=2, **kwargs)
        return self._validate_predict_data(X, **kwargs)

    # -- fit ---------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the activation model, the class means and the Weibull models.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or \
                (n_samples, channels, height, width)
            Training samples of the known classes (images only with the
            default network).
        y : array-like of shape (n_samples,)
            Known-class labels; must not contain ``open_label``.

        Returns
        -------
        self : OpenMaxClassifier
        """
        X, y = self._validate_X(X, reset=True, y=y)
        y_encoded = self._fit_labels(y)
        random_state = check_random_state(self.random_state)
        self._fit_activation_model(X, y, y_encoded, random_state)
        self.input_shape_ = tuple(X.shape[1:])

        av = self._activation_vectors_chunked(X)
        self.recalibration_ = OpenMaxRecalibration(
            tail_size=self.tail_size,
            alpha_rank=self.alpha_rank,
            distance=self.distance,
            translate_amount=self.translate_amount,
        )
        self.recalibration_.fit(av, y_encoded, class_labels=self.classes_)
        self.mean_activation_vectors_ = self.recalibration_.class_means_
        self.weibull_ = self.recalibration_.weibull_
        self.n_correct_per_class_ = self.recalibration_.n_correct_per_class_
        if isinstance(self.threshold, str):
            out = self.recalibration_.recalibrate(av, known_score=self.known_score)
            correct = np.argmax(out.proba[:, :-1], axis=1) == y_encoded
            self._calibrate_threshold(out.known_score, correct)
        else:
            self._calibrate_threshold()
        return self

    # -- prediction ------------------------------------------------------------
    def _chunks(self, X):
        return gen_batches(X.shape[0], _CHUNK_ROWS)

    def _activation_vectors_chunked(self, X):
        if X.shape[0] <= _CHUNK_ROWS:
            return self._activation_vectors(X)
        return np.vstack(
            [self._activation_vectors(X[rows]) for rows in self._chunks(X)]
        )

    def _recalibrated_chunks(self, X):
        """The engine's ``RecalibratedLogits`` (named tuple) per chunk of X."""
        X = self._validate_X(X, reset=False)
        for rows in self._chunks(X):
            yield self.recalibration_.recalibrate(
                self._activation_vectors(X[rows]), known_score=self.known_score
            )

    def predict_open_proba(self, X):
        """Probabilities over the known classes and the unknown class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes + 1)
            Columns follow ``classes_``; the last column is the unknown class.
        """
        return np.vstack([out.proba for out in self._recalibrated_chunks(X)])

    def predict_proba(self, X):
        """Closed-set probabilities: OpenMax's known-class probabilities, renormalized.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            ``P(y = j | x) / (1 - P(unknown | x))``; rows sum to 1.
        """
        return np.vstack(
            [out.closed_set_proba() for out in self._recalibrated_chunks(X)]
        )

    def decision_function(self, X):
        """Recalibrated activation vectors :math:`\\hat v_j(x)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            One column per known class. With two classes, scikit-learn's
            binary convention: the score of ``classes_[1]`` minus that of
            ``classes_[0]``, shape (n_samples,).
        """
        scores = np.vstack([out.logits for out in self._recalibrated_chunks(X)])
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def _open_set_parts(self, X):
        """Closed-set index, known-ness score and OpenMax's own rejection.

        The own rule (the paper's): the unknown class has the highest OpenMax
        probability, or the top probability is below ``epsilon``. The mixin
        adds the rejection where the score is below ``threshold_``.
        """
        index, score, reject = [], [], []
        for out in self._recalibrated_chunks(X):
            index.append(out.closed_set_index())
            score.append(out.known_score)
            reject.append(out.openmax_rejection(self.epsilon))
        return np.concatenate(index), np.concatenate(score), np.concatenate(reject)

    def _uses_network(self):
        return self.estimator is None
