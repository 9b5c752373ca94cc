"""The OpenMax recalibration (Bendale & Boult, 2016) as an engine.

Fitted on the logits (activation vectors) of labelled training samples, it
turns logits into probabilities over the known classes plus an explicit unknown
class. :class:`~sklearn_openset.OpenMaxClassifier` wraps it around an
activation model; CROSR uses it with distances measured on other features than
the logits.
"""

import warnings
from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import logsumexp, softmax

from ._weibull import WeibullTailFitter, _check_positive_integer, _check_tail_size

__all__ = ["OpenMaxRecalibration", "RecalibratedLogits"]

# Rows per chunk when transforming: bounds memory (a few arrays of chunk x
# classes) whatever the number of samples; each sample is scored on its own, so
# chunking never changes a score.
_CHUNK_ROWS = 2**15

_DISTANCES = ("eucos", "euclidean", "cosine")
_KNOWN_SCORES = ("probability", "logsumexp")


def _av_distances(av, means, metric):
    """Distances ``(n_samples, n_classes)`` from each activation vector to each mean.

    ``"eucos"`` is euclidean / 200 + cosine distance, the scaling of the
    original OpenMax code (Bendale & Boult), which makes the euclidean part
    comparable to the cosine part for ImageNet logits.
    """
    if metric == "eucos":
        return cdist(av, means, "euclidean") / 200.0 + cdist(av, means, "cosine")
    return cdist(av, means, metric)


def _distances_to_class_means(av_by_class, means, starts, ends, metric):
    """Distance of each AV to the mean of its class, for AVs grouped by class.

    ``av_by_class[starts[c]:ends[c]]`` are the AVs of class ``c``; the metric
    is that of :func:`_av_distances`. ``|a - m|^2 = |a|^2 - 2 a.m + |m|^2``:
    one product with its mean per class, the rest elementwise over all rows
    at once; several times cheaper than :func:`~scipy.spatial.distance.cdist`.
    Returns one 1-D array (a view) per class.
    """
    squared_norms = np.einsum("ij,ij->i", av_by_class, av_by_class)
    dots = np.empty(av_by_class.shape[0])
    for start, end, mean in zip(starts.tolist(), ends.tolist(), means, strict=True):
        np.matmul(av_by_class[start:end], mean, out=dots[start:end])
    mean_norms = np.repeat(np.einsum("ij,ij->i", means, means), ends - starts)
    if metric != "euclidean":
        cosine = 1.0 - dots / np.sqrt(squared_norms * mean_norms)
    if metric == "cosine":
        distances = cosine
    else:
        # Rounding can make the square of a distance close to 0 slightly negative.
        distances = np.sqrt(np.maximum(squared_norms - 2.0 * dots + mean_norms, 0.0))
        if metric == "eucos":
            distances /= 200.0
            distances += cosine
    return np.split(distances, ends[:-1])


class RecalibratedLogits(NamedTuple):
    """What :meth:`OpenMaxRecalibration.recalibrate` returns, one row per sample.

    Attributes
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        The recalibrated logits :math:`\\hat v_j(x)`.
    unknown_logit : ndarray of shape (n_samples,)
        The activation of the unknown class, :math:`\\hat v_0(x)`.
    proba : ndarray of shape (n_samples, n_classes + 1)
        The OpenMax probabilities, softmax of ``[logits, unknown_logit]``: the
        known classes in column order, the unknown class last.
    w_score : ndarray of shape (n_samples, n_classes)
        The W-score of each class, :math:`\\mathrm{WeibullCDF}_j(d(f(x), \\mu_j))`.
    known_score : ndarray of shape (n_samples,)
        Higher means more like the known classes; see
        :meth:`OpenMaxRecalibration.known_score`.
    """

    logits: np.ndarray
    unknown_logit: np.ndarray
    proba: np.ndarray
    w_score: np.ndarray
    known_score: np.ndarray

    def closed_set_index(self):
        """Column of the largest known-class probability of each sample."""
        return np.argmax(self.proba[:, :-1], axis=1)

    def closed_set_proba(self):
        """Known-class probabilities renormalized to sum to 1 (unknown left out)."""
        known = self.proba[:, :-1]
        return known / known.sum(axis=1, keepdims=True)

    def openmax_rejection(self, epsilon=0.0):
        """OpenMax's own rule: the unknown class wins, or the top probability < epsilon."""
        proba = self.proba
        unknown_wins = np.argmax(proba, axis=1) == proba.shape[1] - 1
        return unknown_wins | (proba.max(axis=1) < epsilon)


class OpenMaxRecalibration:
    r"""Recalibrate logits with per-class Weibull models of extreme distances.

    The engine of OpenMax (Bendale & Boult, 2016). :meth:`fit` takes the
    logits (activation vectors) of labelled training samples; it keeps the
    correctly classified ones (arg-max of the logits equal to the label),
    computes the mean of each class's distance features and fits, per class, a
    Weibull to the ``tail_size`` largest distances of the class's samples to
    that mean (:class:`WeibullTailFitter`, libMR's ``FitHigh``). At transform
    time the top ``alpha_rank`` logits of a sample are reduced by the
    probability that its distance to the class mean is extreme; the removed
    mass becomes the logit of an explicit unknown class, and a softmax over
    the C + 1 logits gives the open-set probabilities.

    The distance features default to the logits themselves (OpenMax). They
    may be other features of the same samples: CROSR measures the distances on
    the concatenation of the logits and the latent codes, and recalibrates the
    logits only.

    Parameters
    ----------
    tail_size : int, default=20
        Number of largest distances per class fitted by the Weibull (paper:
        20). A class with fewer correctly classified training samples uses
        what it has, with a warning.
    alpha_rank : int or None, default=10
        Number of top classes whose logit is recalibrated (paper: 10; capped
        at the number of classes). ``None`` turns the rank calibration off:
        every class's logit is damped by its own W-score, whatever its rank
        (CROSR's setting for few classes).
    distance : {"eucos", "euclidean", "cosine"}, default="eucos"
        Distance between the features of a sample and a class mean.
        ``"eucos"`` is euclidean / 200 + cosine, as in the original code.
    translate_amount : int, default=1
        Shift of the Weibull fit (libMR's default, used by the original code).

    Attributes
    ----------
    class_means_ : ndarray of shape (n_classes, n_features)
        Mean distance features of the correctly classified training samples of
        each class (the mean activation vectors when the features are the
        logits).
    weibull_ : WeibullTailFitter
        The per-class Weibull models of the distances.
    n_correct_per_class_ : ndarray of int, shape (n_classes,)
        Number of correctly classified training samples of each class.
    n_classes_ : int
        Number of classes (columns of the logits).
    n_features_ : int
        Number of distance features (``n_classes_`` when they are the logits).
    distance_on_logits_ : bool
        Whether the distances are measured on the logits (``fit`` was given no
        ``features``). If not, every later call needs the ``features``.

    See Also
    --------
    sklearn_openset.OpenMaxClassifier : the estimator built on this engine.
    WeibullTailFitter : the Weibull fit (libMR's ``FitHigh``).

    Notes
    -----
    Let :math:`v(x) \in \mathbb{R}^C` be the logits of :math:`x` and
    :math:`f(x)` its distance features (:math:`f = v` by default). Let
    :math:`\mu_j` be the mean of :math:`f` over the correctly classified
    training samples of class :math:`j`, and :math:`\rho_j` the Weibull fitted
    to the ``tail_size`` largest :math:`d(f, \mu_j)` of those samples. The
    W-score of class :math:`j` is

    .. math:: w_j(x) = \mathrm{WeibullCDF}_{\rho_j}\left(d(f(x), \mu_j)\right).

    With :math:`s(i)` the index of the i-th largest logit and
    :math:`\alpha' = \min(\alpha, C)`, the weights are

    .. math:: \omega_{s(i)}(x) = 1 - \frac{\alpha - i + 1}{\alpha}
              \, w_{s(i)}(x), \quad i = 1 \ldots \alpha',

    and 1 for the other classes; with ``alpha_rank=None`` (no rank
    calibration), :math:`\omega_j(x) = 1 - w_j(x)` for every class. The
    recalibrated logits and the unknown logit are

    .. math:: \hat v_j(x) = v_j(x)\, \omega_j(x), \qquad
              \hat v_0(x) = \sum_j v_j(x) (1 - \omega_j(x)),

    and the open-set probabilities
    :math:`P(y = j \mid x) = e^{\hat v_j} / \sum_{i=0}^{C} e^{\hat v_i}`
    (:meth:`transform`; the unknown class :math:`j = 0` is the last column).

    Two known-ness scores (:meth:`known_score`), higher meaning more known:
    ``"probability"``, the paper's :math:`1 - P(y = 0 \mid x)`, and
    ``"logsumexp"``,

    .. math:: \log \sum_{j=1}^{C} \exp\left(v_j(x) (1 - w_j(x))\right),

    every class damped by its own W-score, whatever its rank: how the public
    evaluation code of Neal et al. (2018) scores OpenMax.

    The Weibull fit reproduces libMR's ``FitHigh`` (the library of the
    original code) to floating-point precision; the end-to-end
    probabilities match a run of the original algorithm to 1e-14. Two
    departures from the original code, both where it cannot be followed
    literally: the alpha weights stop at :math:`\min(\alpha, C)`, and
    ``"euclidean"`` uses the plain euclidean distance both to fit and to
    query (the original divides by 200 at query time only, which makes every
    W-score 0). The softmax subtracts the maximum (the original does not),
    which changes nothing but overflow.

    Each sample is scored on its own: results never depend on the other
    samples of the batch, and large inputs are processed in chunks.

    References
    ----------
    .. [1] A. Bendale and T. E. Boult, "Towards Open Set Deep Networks",
       CVPR 2016.
    .. [2] W. J. Scheirer, A. Rocha, R. J. Micheals and T. E. Boult,
       "Meta-Recognition: The Theory and Practice of Recognition Score
       Analysis", IEEE TPAMI 33(8), 2011 (libMR).
    .. [3] L. Neal, M. Olson, X. Fern, W.-K. Wong and F. Li, "Open Set
       Learning with Counterfactual Images", ECCV 2018.
    .. [4] R. Yoshihashi, W. Shao, R. Kawakami, S. You, M. Iida and
       T. Naemura, "Classification-Reconstruction Learning for Open-Set
       Recognition", CVPR 2019. (CROSR)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.evt import OpenMaxRecalibration
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 100)
    >>> logits = 6.0 * np.eye(3)[y] + rng.normal(size=(300, 3))
    >>> openmax = OpenMaxRecalibration(tail_size=20).fit(logits, y)
    >>> openmax.class_means_.shape
    (3, 3)
    >>> openmax.n_correct_per_class_
    array([100, 100, 100])
    >>> new = np.array([[6.0, 0.0, 0.0], [30.0, -20.0, 25.0]])
    >>> proba = openmax.transform(new)   # 3 known classes, then the unknown
    >>> proba.shape
    (2, 4)
    >>> proba.argmax(axis=1)             # the far input goes to the unknown
    array([0, 3])

    Distances on other features than the logits (as CROSR does with the
    logits and the latent codes), the logits alone recalibrated:

    >>> latent = rng.normal(size=(300, 2)) + y[:, None]
    >>> features = np.hstack([logits, latent])
    >>> crosr = OpenMaxRecalibration(tail_size=20).fit(logits, y, features=features)
    >>> crosr.class_means_.shape
    (3, 5)
    >>> out = crosr.recalibrate(logits[:5], features[:5])
    >>> out.logits.shape, out.proba.shape, out.w_score.shape
    ((5, 3), (5, 4), (5, 3))
    """

    def __init__(
        self, tail_size=20, alpha_rank=10, distance="eucos", translate_amount=1
    ):
        self.tail_size = tail_size
        self.alpha_rank = alpha_rank
        self.distance = distance
        self.translate_amount = translate_amount

    def __repr__(self):
        return (
            f"{type(self).__name__}(tail_size={self.tail_size!r}, "
            f"alpha_rank={self.alpha_rank!r}, distance={self.distance!r}, "
            f"translate_amount={self.translate_amount!r})"
        )

    # ------------------------------------------------------------------ fit
    def fit(self, logits, y, *, features=None, class_labels=None):
        """Fit the class means and the Weibull models of the distances.

        Parameters
        ----------
        logits : array-like of shape (n_samples, n_classes)
            Logits (activation vectors) of the training samples, one column
            per class. A sample is correctly classified when the arg-max of
            its logits is its class.
        y : array-like of int, shape (n_samples,)
            The class of each sample, as the index of its column in
            ``logits`` (``0 .. n_classes - 1``).
        features : array-like of shape (n_samples, n_features), default=None
            The features on which distances are measured; ``None`` measures
            them on the logits.
        class_labels : array-like of shape (n_classes,), default=None
            The name of each class, used in error and warning messages only;
            ``None`` names them by their column index.

        Returns
        -------
        self : OpenMaxRecalibration
            The fitted engine.

        Raises
        ------
        ValueError
            If a class has no correctly classified sample, or if the Weibull
            fit of a class fails (fewer than 2 correctly classified samples,
            or all at the same distance from their mean).

        Warns
        -----
        UserWarning
            If a class has fewer correctly classified samples than
            ``tail_size``: its Weibull is fitted on all of them.
        """
        tail_size = _check_tail_size(self.tail_size)
        alpha_rank = self.alpha_rank
        if alpha_rank is not None:
            alpha_rank = _check_positive_integer(alpha_rank, "alpha_rank")
        distance = _check_option(self.distance, "distance", _DISTANCES)
        logits = _as_float_matrix(logits, "logits")
        n_samples, n_classes = logits.shape
        distance_on_logits = features is None
        if distance_on_logits:
            features = logits
        else:
            features = _as_float_matrix(features, "features", n_samples)
        y = _check_class_indices(y, n_samples, n_classes)
        if class_labels is None:
            class_labels = np.arange(n_classes)
        else:
            class_labels = np.asarray(class_labels)
            if class_labels.shape != (n_classes,):
                raise ValueError(
                    f"class_labels must name the {n_classes} classes (columns of "
                    f"logits), got shape {class_labels.shape}."
                )

        correct_rows = np.flatnonzero(np.argmax(logits, axis=1) == y)
        # A small integer type: numpy's stable sort of it below is a radix sort.
        y_correct = np.take(y, correct_rows).astype(np.min_scalar_type(n_classes))
        n_correct = np.bincount(y_correct, minlength=n_classes)
        empty = np.flatnonzero(n_correct == 0)
        if empty.size:
            raise ValueError(
                "OpenMax needs correctly classified training samples of every class "
                "to fit its mean and Weibull; none of class(es) "
                f"{class_labels[empty].tolist()!r} is. Train the activation model "
                "better (more epochs, another estimator) or give more samples."
            )
        # Samples grouped by class (np.take gathers rows several times faster
        # than fancy indexing): the means are one segment reduction, and the
        # distances one product with the mean per class, the rest over all
        # rows at once; faster than any form that repeats the means row by row.
        by_class = np.take(correct_rows, np.argsort(y_correct, kind="stable"))
        features_by_class = np.take(features, by_class, axis=0)
        ends = np.cumsum(n_correct)
        starts = ends - n_correct
        means = np.add.reduceat(features_by_class, starts, axis=0) / n_correct[:, None]

        few = np.flatnonzero(n_correct < tail_size)
        if few.size:
            warnings.warn(
                f"Class(es) {class_labels[few].tolist()!r} have fewer correctly "
                f"classified training samples ({n_correct[few].tolist()}) "
                f"than tail_size={tail_size}; their Weibull is fitted on all of "
                "them.",
                UserWarning,
                stacklevel=2,
            )
        per_class = _distances_to_class_means(
            features_by_class, means, starts, ends, distance
        )
        weibull = WeibullTailFitter(
            tail_size, translate_amount=self.translate_amount
        ).fit(per_class)
        invalid = np.flatnonzero(~weibull.valid_)
        if invalid.size:
            names = class_labels[invalid].tolist()
            raise ValueError(
                f"The Weibull fit failed for class(es) {names!r}: "
                "their correctly classified training samples are fewer than 2 or all "
                "at the same distance from the class mean. OpenMax needs at least "
                "2 distinct distances per class; give more samples of these classes."
            )
        self.class_means_ = means
        self.weibull_ = weibull
        self.n_correct_per_class_ = n_correct
        self.n_classes_ = n_classes
        self.n_features_ = features.shape[1]
        self.distance_on_logits_ = distance_on_logits
        # The parameters in use, fixed at fit: the Weibulls were fitted on
        # this distance.
        self._alpha_rank = alpha_rank
        self._distance = distance
        return self

    # ------------------------------------------------------------ transform
    def recalibrate(self, logits, features=None, *, known_score="probability"):
        """Recalibrated logits, unknown logit, probabilities and scores, in one pass.

        Parameters
        ----------
        logits : array-like of shape (n_samples, n_classes)
            Logits of the samples, columns as in :meth:`fit`.
        features : array-like of shape (n_samples, n_features), default=None
            Their distance features; required if :meth:`fit` was given some,
            else it must be None (the logits are the features).
        known_score : {"probability", "logsumexp"}, default="probability"
            Which known-ness score to return; see :meth:`known_score`.

        Returns
        -------
        result : RecalibratedLogits
            A named tuple ``(logits, unknown_logit, proba, w_score,
            known_score)``: the recalibrated logits ``(n_samples,
            n_classes)``, the unknown logit ``(n_samples,)``, the open-set
            probabilities ``(n_samples, n_classes + 1)`` with the unknown
            class last, the W-scores ``(n_samples, n_classes)`` and the
            known-ness score ``(n_samples,)``. See the class's Notes for the
            equations.
        """
        self._check_is_fitted()
        _check_option(known_score, "known_score", _KNOWN_SCORES)
        logits, features = self._check_transform_input(logits, features)
        n_samples = logits.shape[0]
        if n_samples <= _CHUNK_ROWS:
            return self._recalibrate_rows(logits, features, known_score)
        parts = [
            self._recalibrate_rows(
                logits[start : start + _CHUNK_ROWS],
                features[start : start + _CHUNK_ROWS],
                known_score,
            )
            for start in range(0, n_samples, _CHUNK_ROWS)
        ]
        return RecalibratedLogits(*(np.concatenate(field) for field in zip(*parts)))

    def transform(self, logits, features=None):
        """Open-set probabilities: the known classes, then the unknown class.

        Parameters
        ----------
        logits : array-like of shape (n_samples, n_classes)
            Logits of the samples, columns as in :meth:`fit`.
        features : array-like of shape (n_samples, n_features), default=None
            Their distance features, as in :meth:`recalibrate`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes + 1)
            Rows sum to 1; the last column is the unknown class.
        """
        return self.recalibrate(logits, features).proba

    def known_score(self, logits, features=None, *, kind="probability"):
        """Known-ness score of each sample: higher means more like the known classes.

        Parameters
        ----------
        logits : array-like of shape (n_samples, n_classes)
            Logits of the samples, columns as in :meth:`fit`.
        features : array-like of shape (n_samples, n_features), default=None
            Their distance features, as in :meth:`recalibrate`.
        kind : {"probability", "logsumexp"}, default="probability"
            ``"probability"``: one minus the OpenMax probability of the
            unknown class (Bendale & Boult). ``"logsumexp"``: the log-sum-exp
            of the logits, each damped by its class's W-score, with no alpha
            ranking (the score of Neal et al.'s evaluation code).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self.recalibrate(logits, features, known_score=kind).known_score

    def w_score(self, features):
        """W-scores: the Weibull CDF of each sample's distance to each class mean.

        Parameters
        ----------
        features : array-like of shape (n_samples, n_features)
            The distance features of the samples: their logits when the
            engine was fitted without ``features``.

        Returns
        -------
        w : ndarray of shape (n_samples, n_classes)
            :math:`\\mathrm{WeibullCDF}_j(d(f(x), \\mu_j))`, in [0, 1].
        """
        self._check_is_fitted()
        features = _as_float_matrix(features, "features")
        self._check_n_columns(features, self.n_features_, "features")
        return self.weibull_.w_score(
            _av_distances(features, self.class_means_, self._distance)
        )

    # -------------------------------------------------------------- helpers
    def _recalibrate_rows(self, logits, features, known_score):
        n_classes = logits.shape[1]
        alpha_rank = self._alpha_rank
        w = self.weibull_.w_score(
            _av_distances(features, self.class_means_, self._distance)
        )
        if alpha_rank is None:
            recalibrated = logits * (1.0 - w)
        else:
            alpha = min(alpha_rank, n_classes)
            ranks = np.argsort(-logits, axis=1, kind="stable")[:, :alpha]
            alpha_weights = np.zeros_like(logits)
            np.put_along_axis(
                alpha_weights,
                ranks,
                (alpha_rank - np.arange(alpha)) / float(alpha_rank),
                axis=1,
            )
            recalibrated = logits * (1.0 - w * alpha_weights)
        unknown = np.sum(logits - recalibrated, axis=1)
        proba = softmax(np.column_stack([recalibrated, unknown]), axis=1)
        if known_score == "logsumexp":
            known = logsumexp(logits * (1.0 - w), axis=1)
        else:
            known = 1.0 - proba[:, -1]
        return RecalibratedLogits(recalibrated, unknown, proba, w, known)

    def _check_transform_input(self, logits, features):
        logits = _as_float_matrix(logits, "logits")
        self._check_n_columns(logits, self.n_classes_, "logits")
        if self.distance_on_logits_:
            if features is not None:
                raise ValueError(
                    "This OpenMaxRecalibration was fitted without features (the "
                    "distances are measured on the logits); pass features=None."
                )
            return logits, logits
        if features is None:
            raise ValueError(
                "This OpenMaxRecalibration was fitted with features "
                f"({self.n_features_} columns) for its distances; pass them."
            )
        features = _as_float_matrix(features, "features", logits.shape[0])
        self._check_n_columns(features, self.n_features_, "features")
        return logits, features

    def _check_n_columns(self, array, expected, name):
        if array.shape[1] != expected:
            raise ValueError(
                f"{name} has {array.shape[1]} columns but this "
                f"{type(self).__name__} was fitted with {expected}."
            )

    def _check_is_fitted(self):
        if not hasattr(self, "weibull_"):
            # imported here: the engine itself needs only numpy and scipy, and
            # importing scikit-learn takes seconds
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. "
                "Call 'fit' with appropriate arguments before using it."
            )


def _check_option(value, name, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")
    return value


def _as_float_matrix(values, name, n_rows=None):
    """``values`` as a 2-D float64 array (no copy when it is one already)."""
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}.")
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(
            f"{name} must be a 2-D array (n_samples, n_columns) with at least one "
            f"column, got shape {array.shape}."
        )
    if n_rows is not None and array.shape[0] != n_rows:
        raise ValueError(
            f"{name} has {array.shape[0]} rows but logits have {n_rows}; give one "
            "row per sample."
        )
    return array.astype(np.float64, copy=False)


def _check_class_indices(y, n_samples, n_classes):
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.shape != (n_samples,):
        raise ValueError(
            f"y must be a 1-D array of {n_samples} integer class indices (the "
            f"columns of logits), got dtype {y.dtype} and shape {y.shape}."
        )
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"y must hold class indices in [0, {n_classes - 1}] (the columns of "
            f"logits), got values from {y.min()} to {y.max()}."
        )
    return y
