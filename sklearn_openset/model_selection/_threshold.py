"""Tune the rejection threshold of an open-set classifier by pseudo-open CV."""

import math
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.model_selection import StratifiedShuffleSplit, check_cv
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _estimator_has,
    _num_samples,
    check_is_fitted,
    check_random_state,
)

from ..base import OpenSetClassifierMixin
from ..metrics import open_set_f1_scorer
from ..metrics._scorer import _final_step, _OpenSetScorer
from ..utils._validation import encode_known_labels, encode_open_set
from ._split import PseudoOpenSetSplit

__all__ = ["TunedOpenSetThresholdCV"]

#: Largest rejection rate of known samples in the candidate grid.
MAX_REJECTION_RATE = 0.5

#: Share of the training samples held out to turn the chosen rate into the
#: final model's threshold (the ``test_size`` of PseudoOpenSetSplit).
HELD_OUT_FRACTION = 0.2


class _FixedPredictions:
    """What a scorer sees of a split's model at one candidate threshold.

    It answers ``predict`` with the labels computed for that threshold, so any
    scorer that scores ``estimator.predict(X)`` works without a refit.
    """

    def __init__(self, classes, open_label, y_pred):
        self.classes_ = classes
        self.open_label = open_label
        self._y_pred = y_pred

    def predict(self, X):
        return self._y_pred


def _rate_thresholds(known_scores, rates):
    """Threshold of each rejection rate: the rate-quantile of known scores.

    Rate 0 is no threshold (``-inf``), so that the grid starts at what the
    estimator predicts with ``threshold=None``.
    """
    thresholds = np.quantile(known_scores, rates)
    thresholds[rates == 0] = -np.inf
    return thresholds


def _class_share_rows(y_encoded, train, test, open_fraction, random_state):
    """Test rows scored: the held-out known rows and a draw of the unknown ones.

    The held-out known rows (of the classes of the training fold) are all
    kept: they are the fraction ``f`` of their classes' samples in ``y``. A
    pseudo-open test fold holds *all* sub-open samples and would otherwise
    weigh the unknowns ``1 / f`` times more than a test set drawn like ``y``.
    With ``open_fraction=None``, of each other class ``c`` of the test fold
    ``round(f * n_c)`` random rows are kept (at least 1, at most all of its
    test rows), ``n_c`` its number of samples in ``y``. With a float, the
    unknown rows kept make that fraction of the rows scored, spread over the
    unknown classes in proportion to their ``n_c`` (at least 1 row each, at
    most all of a class's test rows).
    """
    test = np.asarray(test)
    counts = np.bincount(y_encoded)
    y_test = y_encoded[test]
    known = np.isin(y_test, np.unique(y_encoded[train]))
    unknown_classes = np.unique(y_test[~known])
    if open_fraction is None:
        share = (
            known.sum() / counts[np.unique(y_test[known])].sum() if known.any() else 0
        )
        wanted = share * counts[unknown_classes]
    else:
        n_open = open_fraction / (1 - open_fraction) * known.sum()
        weights = counts[unknown_classes]
        wanted = n_open * weights / max(weights.sum(), 1)
    rng = check_random_state(random_state)
    keep = known.copy()
    for c, n_wanted in zip(unknown_classes, wanted):
        rows = np.flatnonzero(y_test == c)
        n_keep = min(len(rows), max(1, round(n_wanted)))
        keep[rng.choice(rows, n_keep, replace=False)] = True
    return test[keep]


def _threshold_param(estimator):
    """Name of the ``threshold`` parameter: the last step's for a pipeline."""
    prefix = ""
    while hasattr(estimator, "steps"):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    if not hasattr(estimator, "get_params"):
        return None
    return prefix + "threshold" if "threshold" in estimator.get_params() else None


def _without_threshold(estimator):
    """An unfitted clone that rejects by the method's own rule only."""
    return clone(estimator).set_params(**{_threshold_param(estimator): None})


def _fit_and_score_over_rates(
    estimator, X, y, y_encoded, train, test, rates, scorer, open_fraction, random_state
):
    """Fit one split, then score every candidate rate without refitting.

    Returns the split's score and threshold (in the units of the split
    model's ``score_samples``) of every rate.
    """
    test = _class_share_rows(y_encoded, train, test, open_fraction, random_state)
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
    model = _without_threshold(estimator).fit(X_train, y_train)
    classes = model.classes_
    open_label = getattr(_final_step(model), "open_label", -1)
    test_scores = np.asarray(model.score_samples(X_test), dtype=float)
    base = model.predict(X_test)
    known = encode_open_set(y_test, classes) < len(classes)
    if not np.any(known):
        raise ValueError(
            "A test fold of cv holds no sample of the classes its training fold "
            "was fitted on, so no rejection rate of known samples can be "
            "measured on it. Use a cv whose test folds hold held-out samples of "
            "the training classes (PseudoOpenSetSplit does)."
        )
    thresholds = _rate_thresholds(test_scores[known], rates)
    scores = np.empty(len(rates))
    for i, threshold in enumerate(thresholds):
        y_pred = base.copy()
        y_pred[test_scores < threshold] = open_label
        scores[i] = scorer(
            _FixedPredictions(classes, open_label, y_pred), X_test, y_test
        )
    return scores, thresholds


class TunedOpenSetThresholdCV(
    OpenSetClassifierMixin, MetaEstimatorMixin, BaseEstimator
):
    """Open-set classifier whose rejection threshold is tuned by pseudo-open CV.

    Wraps an open-set classifier of the library (any estimator with ``fit``,
    ``predict``, ``score_samples`` and a ``threshold`` parameter, or a
    pipeline ending in one) and chooses its ``threshold`` without any real
    unknown sample. Each split of ``cv`` (by default
    :class:`PseudoOpenSetSplit`) fits a clone with ``threshold=None`` on some
    known classes and scores it on held-out samples of these and on samples of
    the others, which play the unknowns, for a grid of candidate thresholds,
    without refitting per candidate. A raw score does not carry over from a
    model of some classes to a model of all of them, so each candidate is a
    **rejection rate of known samples**, turned into a threshold in each
    model's own ``score_samples`` units. The rate with the best mean score is
    then applied to the estimator refitted on all of ``X, y``.

    Like scikit-learn's :class:`~sklearn.model_selection.TunedThresholdClassifierCV`,
    it works through the wrapped estimator's public methods only, and is
    itself an open-set classifier: ``predict`` answers the wrapped
    estimator's prediction (its own rule included: OpenMax's unknown class,
    ANS's all-negative heads) or ``open_label`` where
    ``score_samples(X) < threshold_``.

    Parameters
    ----------
    estimator : estimator instance
        The open-set classifier (or a pipeline ending in one) whose threshold
        is tuned; cloned in ``fit``, its own ``threshold`` is ignored (set to
        None in every clone) and its ``open_label`` is the tuner's.

    scoring : callable, default=None
        A scorer ``scorer(estimator, X, y)`` of the predictions, greater is
        better, e.g. one made by
        :func:`~sklearn_openset.metrics.make_open_set_scorer`. It is called
        once per split and candidate with a stand-in whose ``predict`` returns
        the predictions at that candidate, ``classes_`` and ``open_label``
        being the split model's. ``None`` is
        :data:`~sklearn_openset.metrics.open_set_f1_scorer` (macro-F1 over
        the known classes and the open class). A scorer of ``score_samples``
        (AUROC) is refused: no threshold changes it.

    cv : int, cross-validation generator or iterable, default=None
        The splits. ``None``: ``PseudoOpenSetSplit(n_splits,
        random_state=random_state)`` with its defaults (half of the classes
        sub-known, 20 % of their samples held out), ``n_splits`` being 5 or
        the number of distinct sub-known subsets when there are fewer (3 for
        3 classes). An int: that many pseudo-open splits. Pseudo-open splits
        need at least 3 classes. Any other splitter or iterable of
        ``(train, test)`` is used as it is; every test fold must hold
        held-out samples of its training classes.

    n_rates : int, default=51
        Number of candidate rejection rates of known samples, evenly spaced
        from 0 (no threshold) to 0.5: 1 % steps by default. The rates the
        measurements of the Notes chose lie between 0.03 and 0.27.

    open_fraction : float in (0, 1), default=None
        The share of unknown inputs expected at prediction time, if known.
        The best threshold of a score like macro-F1 depends on it: the more
        unknowns, the more known samples are worth rejecting with them. Each
        split scores its held-out known samples with as many of its sub-open
        samples as make this share of the samples scored. ``None``: each
        sub-open class is scored at the share of the data its samples have in
        ``y``, like the held-out known classes (at 50 % sub-known classes,
        about half the samples scored are unknown). See Notes.

    n_jobs : int, default=None
        Number of splits fitted and scored in parallel (joblib). ``None`` is
        1 unless in a :func:`joblib.parallel_backend` context.

    random_state : int, RandomState instance or None, default=None
        Seeds the default pseudo-open splits, the choice of the unknown
        samples scored in each split and the internal held-out part (None:
        numpy's global random state, as in scikit-learn). It is not passed to
        ``estimator``, which keeps its own.

    Attributes
    ----------
    estimator_ : estimator instance
        The clone of ``estimator`` fitted on all of ``X, y`` with
        ``threshold=None``.

    threshold_ : float
        The threshold on ``estimator_.score_samples``; ``-inf`` when the best
        rate is 0.

    best_rejection_rate_ : float
        The chosen rate of known samples to reject.

    best_score_ : float
        The mean score over the splits at that rate.

    best_index_ : int
        Its index in ``cv_results_["rejection_rate"]``.

    cv_results_ : dict of ndarray
        The curves, one entry per candidate rate (a pandas ``DataFrame``
        takes it as it is): ``"rejection_rate"``; for every split ``k``,
        ``"split{k}_score"`` and ``"split{k}_threshold"`` (in the units of
        that split's model's ``score_samples``); ``"mean_score"`` and
        ``"std_score"`` over the splits.

    n_splits_ : int
        Number of splits.

    classes_ : ndarray of shape (n_classes,)
        The known classes.

    n_features_in_ : int
        Number of features seen in ``fit``, where ``estimator_`` has it.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen in ``fit``, where ``estimator_`` has them.

    See Also
    --------
    PseudoOpenSetSplit : The default splits.
    sklearn.model_selection.TunedThresholdClassifierCV : The same idea for
        the decision threshold of a binary classifier.

    Notes
    -----
    **The rate on each split.** Split :math:`k` fits :math:`f_k` on its
    training fold. Let :math:`S_k` be the scores ``score_samples`` of the
    test fold's samples of the classes of :math:`f_k` (held-out known
    samples) and :math:`Q(S, r)` the :math:`r`-quantile of a set of scores
    (:func:`numpy.quantile`, linear). For the rates
    :math:`r_j = j\\,r_{\\max}/(J-1)`, :math:`j = 0, \\dots, J-1`
    (:math:`J` = ``n_rates``, :math:`r_{\\max} = 0.5`), the candidate
    thresholds are

    .. math::
        t_{k,0} = -\\infty, \\qquad t_{k,j} = Q(S_k, r_j) \\quad (j > 0),

    so that :math:`t_{k,j}` rejects a share :math:`r_j` of the held-out known
    samples, and rate 0 is the prediction without a threshold. The prediction
    at :math:`t_{k,j}` is :math:`f_k`'s own prediction, or ``open_label``
    where :math:`f_k(x) < t_{k,j}`; the scorer gives :math:`m_{k,j}`. The
    chosen rate maximizes the mean over the :math:`K` splits (the lowest rate
    on ties):

    .. math::
        j^* = \\arg\\max_j \\frac{1}{K} \\sum_{k=1}^{K} m_{k,j}, \\qquad
        r^* = r_{j^*}.

    **Unknowns at the share of their class.** A pseudo-open test fold holds
    a fraction :math:`\\varphi` (``test_size``, 0.2) of the sub-known samples
    but *all* sub-open samples, so it weighs the unknowns :math:`1/\\varphi`
    times more than a test set drawn like ``y``, and a score like macro-F1
    then asks for far more rejection. Each split therefore scores, of every
    class :math:`c` of its test fold that :math:`f_k` does not know,
    :math:`\\operatorname{round}(\\varphi\\, n_c)` random samples
    (:math:`n_c` its samples in ``y``, :math:`\\varphi` the held-out share of
    the known classes), and all the held-out known samples (in the
    development runs, scoring all sub-open samples chose rejection rates
    far above the best ones on the test set).

    **The transfer to the final model.** :math:`r^*` is a rate, not a score,
    because :math:`f_k` knows only some classes. ``estimator_`` :math:`f` is
    fitted on all of ``X, y``; its threshold must reject a share :math:`r^*`
    of *unseen* known samples, and a model scores its own training samples
    higher than unseen ones. So an auxiliary clone :math:`g` is fitted on a
    stratified 80 % part of ``X, y`` and, with :math:`H` the other 20 %,

    .. math::
        \\text{threshold\\_} = Q(\\{g(x) : x \\in H\\}, r^*)
        \\quad (-\\infty \\text{ if } r^* = 0).

    :math:`g` and :math:`f` differ only by 20 % of the training data, so
    their scores are in the same units. Three rules were measured, by the
    test macro-F1 of :math:`f` and the share of known test samples it
    rejects: (a) the quantile of :math:`f`'s own training scores; (b) this
    held-out part, either with :math:`f` itself fitted on the 80 % only
    ("b, 80 %") or with :math:`f` on all the data and the threshold from
    :math:`g` (the rule used); (c) each split's threshold mapped to the rate
    it rejects of that split's own training samples, whose mean is taken as
    quantile of :math:`f`'s training scores. The data are
    :func:`~sklearn_openset.datasets.load_digits_open_set` (6 known digits)
    and ``make_open_set_blobs(n_samples=2000, n_features=5,
    n_known_classes=6, n_unknown_classes=4, cluster_std=2.5)``, seeds 0-4
    (0-2 for the random forest), the default tuner; "oracle" is the best
    threshold of :math:`f` chosen on the test set itself, "none" no threshold
    and "auto" ``threshold="auto"`` (5 % of the correctly classified training
    samples). Mean test macro-F1 (``benchmarks/tuning/results_transfer.md``,
    made by ``benchmarks/tuning/bench_transfer.py``):

    ======================  =====  =====  ===========  =====  =====  ======
    data, estimator         none   auto   (a)          (b)    (c)    oracle
                                          / (b, 80 %)
    ======================  =====  =====  ===========  =====  =====  ======
    digits, MSP-LR          0.646  0.881  0.877/0.875  0.881  0.874  0.888
    digits, OpenMax-LR      0.849  0.870  0.873/0.868  0.872  0.870  0.879
    blobs, MSP-LR           0.651  0.760  0.773/0.760  0.775  0.765  0.784
    blobs, OpenMax-LR       0.808  0.828  0.811/0.805  0.816  0.811  0.839
    digits, MSP-forest      0.653  0.792  0.711/0.915  0.922  0.863  0.933
    blobs, MSP-forest       0.633  0.826  0.796/0.819  0.841  0.828  0.847
    ======================  =====  =====  ===========  =====  =====  ======

    (LR: ``LogisticRegression(max_iter=1000)``; forest:
    ``RandomForestClassifier(n_estimators=100)``.) With logistic regression
    the training scores are barely optimistic and (a), (b) and (c) are within
    0.01 of one another. A random forest scores its own training samples
    near 1: on digits (a) then rejects 43 % of the known test samples for a
    chosen rate of 11 % and (c) 22 %, while (b) rejects 10 % and comes
    within 0.011 of the oracle. (b) is the best of the four or within 0.001
    of the best everywhere, for one more fit. Fitting ``estimator_`` on the
    80 % only costs up to 0.015 with logistic regression. Against
    ``"auto"``, the tuned threshold ties with MSP on digits, is better by
    0.002 and 0.015 in the other rows of logistic regression but worse by
    0.012 with OpenMax on the blobs, and better by 0.015 and 0.13 with the
    forest, whose training scores make ``"auto"`` reject too much.

    **The share of unknowns.** The rate that maximizes macro-F1 grows with
    the share of unknown inputs: each unknown accepted costs the precision of
    a known class, and the more unknowns, the more known samples are worth
    rejecting with them. The class-share rule above assumes the unknowns come
    at the rate of the training classes (about half of the samples scored at
    the default ``PseudoOpenSetSplit``, half of the classes sub-known). A user
    who expects another share at prediction time passes it as
    ``open_fraction``: each split then scores its held-out known samples with
    as many sub-open samples as make that share.

    There is no ``refit=False``: a split's model knows only its sub-known
    classes, so none can serve as the final model.

    References
    ----------
    .. [1] Bai et al., "Open World Classification with Adaptive Negative
       Samples" (ANS), EMNLP 2022, appendix A.5: hyper-parameters chosen on
       sub-known and sub-open classes drawn from the known ones
       (PseudoOpenSetSplit).
    .. [2] S. Vaze, K. Han, A. Vedaldi and A. Zisserman, "Open-Set
       Recognition: A Good Closed-Set Classifier Is All You Need", ICLR
       2022: open-set validation on classes held out of the known ones.
    .. [3] scikit-learn's ``TunedThresholdClassifierCV``
       (``sklearn/model_selection/_classification_threshold.py``): a
       threshold tuned by cross-validation through public methods only,
       then one refit.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_openset import MSPClassifier
    >>> from sklearn_openset.datasets import make_open_set_blobs
    >>> from sklearn_openset.metrics import open_set_f1_score
    >>> from sklearn_openset.model_selection import TunedOpenSetThresholdCV
    >>> X_train, X_test, y_train, y_test = make_open_set_blobs(
    ...     n_features=8, n_known_classes=4, cluster_std=3.0, random_state=0)
    >>> tuned = TunedOpenSetThresholdCV(
    ...     MSPClassifier(LogisticRegression()), n_rates=11, random_state=0
    ... ).fit(X_train, y_train)
    >>> round(tuned.best_rejection_rate_, 2), round(tuned.threshold_, 3)
    (0.1, 0.978)
    >>> default = MSPClassifier(LogisticRegression()).fit(X_train, y_train)
    >>> for clf in (default, tuned):  # MSP's default threshold is 0.5
    ...     print(round(open_set_f1_score(y_test, clf.predict(X_test)), 3))
    0.647
    0.831
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict", "score_samples"])],
        "scoring": [callable, None],
        "cv": ["cv_object"],
        "n_rates": [Interval(Integral, 2, None, closed="left")],
        "open_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        scoring=None,
        cv=None,
        n_rates=51,
        open_fraction=None,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.scoring = scoring
        self.cv = cv
        self.n_rates = n_rates
        self.open_fraction = open_fraction
        self.n_jobs = n_jobs
        self.random_state = random_state

    @property
    def open_label(self):
        """The label of rejected inputs: the wrapped estimator's ``open_label``.

        That of ``estimator_`` once fitted (of the last step of a pipeline);
        ``fit`` checks that ``y`` does not hold it.
        """
        estimator = getattr(self, "estimator_", self.estimator)
        return getattr(_final_step(estimator), "open_label", -1)

    def _scorer(self):
        if self.scoring is None:
            return open_set_f1_scorer
        if (
            isinstance(self.scoring, _OpenSetScorer)
            and self.scoring._response_method != "predict"
        ):
            raise ValueError(
                f"scoring={self.scoring!r} scores "
                f"{self.scoring._response_method!r}, which no threshold changes; "
                "pass a scorer of the predictions, e.g. open_set_f1_scorer."
            )
        return self.scoring

    def _splitter(self, n_classes):
        """``cv`` as a splitter: ``None`` and ints are pseudo-open splits."""
        if self.cv is not None and not isinstance(self.cv, Integral):
            return check_cv(self.cv)
        defaults = PseudoOpenSetSplit()
        n_sub_known = round(n_classes * defaults.sub_known_ratio)
        if n_sub_known < 2 or n_sub_known >= n_classes:
            raise ValueError(
                f"cv={self.cv!r} makes pseudo-open splits (PseudoOpenSetSplit), "
                f"which need at least 3 classes (2 sub-known, 1 sub-open); y has "
                f"{n_classes}. Pass a cv of your own."
            )
        n_subsets = math.comb(n_classes, n_sub_known)
        if self.cv is None:
            n_splits = min(defaults.n_splits, n_subsets)
        elif self.cv > n_subsets:
            raise ValueError(
                f"cv={self.cv} asks for more pseudo-open splits than the "
                f"{n_subsets} ways to choose {n_sub_known} sub-known classes out "
                f"of {n_classes}. Lower cv."
            )
        else:
            n_splits = self.cv
        return PseudoOpenSetSplit(n_splits, random_state=self.random_state)

    @_fit_context(
        # estimator is validated by its own fit.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Choose the rejection rate by cross-validation, then fit on all of X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, in whatever form ``estimator`` accepts (it
            validates them).

        y : array-like of shape (n_samples,)
            Known-class labels; must not contain the estimator's
            ``open_label``.

        Returns
        -------
        self : TunedOpenSetThresholdCV
        """
        if _threshold_param(self.estimator) is None:
            raise ValueError(
                f"estimator={self.estimator!r} has no threshold parameter; "
                "TunedOpenSetThresholdCV tunes the threshold of an open-set "
                "classifier (or of a pipeline ending in one)."
            )
        X, y = indexable(X, y)
        open_label = getattr(_final_step(self.estimator), "open_label", -1)
        classes, y_encoded = encode_known_labels(y, open_label)
        # 1-D labels of one dtype for every split and the final fit.
        y = classes[y_encoded]
        scorer = self._scorer()
        cv = self._splitter(len(classes))
        rates = np.linspace(0.0, MAX_REJECTION_RATE, self.n_rates)

        splits = [
            (np.asarray(train), np.asarray(test)) for train, test in cv.split(X, y)
        ]
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(splits) + 1)
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_and_score_over_rates)(
                self.estimator,
                X,
                y,
                y_encoded,
                train,
                test,
                rates,
                scorer,
                self.open_fraction,
                seed,
            )
            for (train, test), seed in zip(splits, seeds)
        )
        split_scores, split_thresholds = (np.array(part) for part in zip(*results))
        mean_score = split_scores.mean(axis=0)
        best = int(np.argmax(mean_score))
        self.cv_results_ = {"rejection_rate": rates}
        for k, (scores, thresholds) in enumerate(zip(split_scores, split_thresholds)):
            self.cv_results_[f"split{k}_score"] = scores
            self.cv_results_[f"split{k}_threshold"] = thresholds
        self.cv_results_["mean_score"] = mean_score
        self.cv_results_["std_score"] = split_scores.std(axis=0)
        self.n_splits_ = len(splits)
        self.best_index_ = best
        self.best_rejection_rate_ = float(rates[best])
        self.best_score_ = float(mean_score[best])

        self.estimator_ = _without_threshold(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        self.threshold_ = self._transferred_threshold(X, y, seeds[-1])
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    def _transferred_threshold(self, X, y, seed):
        """The chosen rate as a threshold on unseen known samples (Notes)."""
        if self.best_rejection_rate_ == 0:
            return -np.inf
        n_held_out = max(
            math.ceil(HELD_OUT_FRACTION * _num_samples(X)), len(self.classes_)
        )
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=n_held_out, random_state=seed
        )
        part, held_out = next(splitter.split(np.zeros((len(y), 1)), y))
        model = _without_threshold(self.estimator).fit(_safe_indexing(X, part), y[part])
        scores = np.asarray(model.score_samples(_safe_indexing(X, held_out)), float)
        return float(np.quantile(scores, self.best_rejection_rate_))

    def _open_set_parts(self, X):
        y_pred = self.estimator_.predict(X)
        scores = self.estimator_.score_samples(X)
        index = encode_open_set(y_pred, self.classes_)
        own_rejection = index == len(self.classes_)
        return np.where(own_rejection, 0, index), scores, own_rejection

    def score_samples(self, X):
        """Known-ness score of the fitted estimator: higher is more known.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``estimator_.score_samples(X)``; ``predict`` rejects where it is
            below ``threshold_``.
        """
        check_is_fitted(self)
        return self.estimator_.score_samples(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Closed-set probabilities of the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_open_proba"))
    def predict_open_proba(self, X):
        """Predict probabilities over the known classes and the unknown class.

        The unknown class is the last column, as the wrapped estimator gives it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes + 1)
        """
        check_is_fitted(self)
        return self.estimator_.predict_open_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Per-class decision function of the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.non_deterministic = inner.non_deterministic
        return tags
