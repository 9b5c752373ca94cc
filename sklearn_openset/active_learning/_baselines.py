"""Baseline query strategies, with the same ``query`` as :class:`LfOSASampler`."""

from typing import ClassVar

import numpy as np
from scipy.stats import entropy
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods

from ._base import BaseOpenSetQueryStrategy, strategy_docs

__all__ = [
    "CertaintySampler",
    "OpenSetScoreSampler",
    "RandomSampler",
    "UncertaintySampler",
]


def _default_classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


@strategy_docs("missing_label", "open_label", "classes_")
class RandomSampler(BaseOpenSetQueryStrategy):
    """Query unlabeled samples uniformly at random.

    The reference every strategy must beat: its expected precision is the
    share of known-class samples in the pool.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Draws the query. The same int gives the same query for the same data.
    {missing_label}
    {open_label}

    Attributes
    ----------
    {classes_}

    See Also
    --------
    LfOSASampler : The open-set strategy.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.active_learning import RandomSampler
    >>> X, y = np.arange(10.0).reshape(-1, 1), np.full(10, np.nan)
    >>> RandomSampler(random_state=0).query(X, y, batch_size=3).shape
    (3,)
    """

    _needs_known_labels = False

    def __init__(self, *, random_state=None, missing_label=np.nan, open_label=-1):
        self.random_state = random_state
        self.missing_label = missing_label
        self.open_label = open_label

    _parameter_constraints: ClassVar[dict] = {
        key: value
        for key, value in BaseOpenSetQueryStrategy._parameter_constraints.items()
        if key != "classes"
    }

    def _utilities(self, pool):
        return pool.random_state.random_sample(len(pool.candidates))


class _ProbabilitySampler(BaseOpenSetQueryStrategy):
    """Base of the strategies that read a classifier's ``predict_proba``.

    The classifier (a clone of ``estimator``) is fitted at each query on the
    labeled samples, and with ``use_invalid=True`` also on the invalid ones
    as one more class, labeled ``open_label``.
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseOpenSetQueryStrategy._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "use_invalid": ["boolean"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        use_invalid=True,
        classes=None,
        random_state=None,
        missing_label=np.nan,
        open_label=-1,
    ):
        self.estimator = estimator
        self.use_invalid = use_invalid
        self.classes = classes
        self.random_state = random_state
        self.missing_label = missing_label
        self.open_label = open_label

    def _probabilities(self, pool):
        """``(proba, known_columns)``: probabilities of the candidates."""
        rows, targets = pool.training_rows(self.use_invalid)
        n_known = len(pool.classes)
        estimator = _default_classifier() if self.estimator is None else self.estimator
        self.estimator_ = clone(estimator)
        _set_random_state(self.estimator_, pool.random_state)
        X_train = pool.X[rows].reshape(len(rows), -1)
        if len(np.unique(targets)) < 2:
            # One class: every candidate is that class with certainty.
            self.estimator_ = None
            proba = np.ones((len(pool.candidates), 1))
            return proba, np.array([targets[0] < n_known])
        self.estimator_.fit(X_train, targets)
        proba = self.estimator_.predict_proba(
            pool.candidates.reshape(len(pool.candidates), -1)
        )
        return proba, np.asarray(self.estimator_.classes_) < n_known


def _set_random_state(estimator, random_state):
    """Seed every ``random_state`` parameter of ``estimator`` (nested too)."""
    seeds = {
        name: random_state.randint(np.iinfo(np.int32).max)
        for name in estimator.get_params(deep=True)
        if name == "random_state" or name.endswith("__random_state")
    }
    if seeds:
        estimator.set_params(**seeds)


@strategy_docs(
    "estimator",
    "classes",
    "random_state",
    "missing_label",
    "open_label",
    "classes_",
    "estimator_",
)
class UncertaintySampler(_ProbabilitySampler):
    """Query the samples whose predicted class is most uncertain (entropy).

    Utility: the entropy :math:`-\\sum_c p_c \\log p_c` of the classifier's
    probabilities. In open-set annotation it tends to query unknown samples,
    which no known class explains well (the LfOSA paper's Figure 1).

    Parameters
    ----------
    {estimator}
    use_invalid : bool, default=True
        Also fit the classifier on the samples marked ``open_label``, as one
        more class (as the reference code's uncertainty baseline does with
        its K+1 detector).
    {classes}
    {random_state}
    {missing_label}
    {open_label}

    Attributes
    ----------
    {classes_}
    {estimator_}

    See Also
    --------
    CertaintySampler : The opposite choice.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_openset.active_learning import UncertaintySampler
    >>> X, y_true = make_blobs(n_samples=100, centers=3, random_state=0)
    >>> y = np.full(100, np.nan)
    >>> y[:10] = y_true[:10]
    >>> UncertaintySampler(random_state=0).query(X, y, batch_size=5).shape
    (5,)
    """

    def _utilities(self, pool):
        proba, _ = self._probabilities(pool)
        return entropy(proba, axis=1)


@strategy_docs(
    "estimator",
    "classes",
    "random_state",
    "missing_label",
    "open_label",
    "classes_",
    "estimator_",
)
class CertaintySampler(_ProbabilitySampler):
    """Query the samples most confidently predicted in a known class.

    Utility: the classifier's largest probability of a known class (the
    column of the invalid samples, with ``use_invalid=True``, is left out).
    The simplest open-set-aware choice: it avoids what looks unknown, but
    also the samples that would teach the classifier most.

    Parameters
    ----------
    {estimator}
    use_invalid : bool, default=True
        Also fit the classifier on the samples marked ``open_label``, as one
        more class whose probability lowers every known one.
    {classes}
    {random_state}
    {missing_label}
    {open_label}

    Attributes
    ----------
    {classes_}
    {estimator_}

    See Also
    --------
    UncertaintySampler : The opposite choice.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_openset.active_learning import CertaintySampler
    >>> X, y_true = make_blobs(n_samples=100, centers=3, random_state=0)
    >>> y = np.full(100, np.nan)
    >>> y[:10] = y_true[:10]
    >>> CertaintySampler(random_state=0).query(X, y, batch_size=5).shape
    (5,)
    """

    def _utilities(self, pool):
        proba, known_columns = self._probabilities(pool)
        if not known_columns.any():
            return np.zeros(len(proba))
        return proba[:, known_columns].max(axis=1)


@strategy_docs(
    "classes", "random_state", "missing_label", "open_label", "classes_", "estimator_"
)
class OpenSetScoreSampler(BaseOpenSetQueryStrategy):
    """Query what an open-set classifier scores as most known.

    Fits a clone of an open-set classifier of this library on the labeled
    known samples and queries the candidates of highest ``score_samples``
    (its known-ness score: larger means more likely a known class). An
    open-set baseline from the recognition side of the field, next to LfOSA's
    detector trained with the unknown samples themselves.

    Parameters
    ----------
    estimator : open-set classifier or None, default=None
        Anything with ``fit`` and ``score_samples``, e.g.
        :class:`~sklearn_openset.OpenMaxClassifier`,
        :class:`~sklearn_openset.CACClassifier` or
        :class:`~sklearn_openset.ANSOneVsRestClassifier`. ``None``:
        :class:`~sklearn_openset.OpenMaxClassifier` over the
        ``StandardScaler`` and ``LogisticRegression`` pipeline, with
        ``known_score="logsumexp"`` (it fits a Weibull tail per class, so it
        needs at least 2 correctly classified labeled samples of each class).
        Not OpenMax's default ``known_score="probability"``: with Weibull
        tails fitted on the few labels of an annotation campaign, one minus
        the unknown probability is close to 0 for most of the pool, and the
        ranking among those values is noise. On the clinc20 pool of
        ``benchmarks/lfosa/results_pools.md`` it reaches a final recall of
        0.448 (random sampling 0.357) against 0.918 with ``"logsumexp"``;
        on mnist20 the two are equal.
    {classes}
    {random_state}
    {missing_label}
    {open_label}
        Not used in training: the open-set classifiers learn from known
        classes only.

    Attributes
    ----------
    {classes_}
    {estimator_}
        With a single class, every candidate has utility 0.

    See Also
    --------
    LfOSASampler : The open-set strategy of the LfOSA paper.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_openset.active_learning import OpenSetScoreSampler
    >>> X, y_true = make_blobs(n_samples=100, centers=3, random_state=0)
    >>> y = np.full(100, np.nan)
    >>> y[:40] = y_true[:40]
    >>> OpenSetScoreSampler(random_state=0).query(X, y, batch_size=5).shape
    (5,)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseOpenSetQueryStrategy._parameter_constraints,
        "estimator": [HasMethods(["fit", "score_samples"]), None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        classes=None,
        random_state=None,
        missing_label=np.nan,
        open_label=-1,
    ):
        self.estimator = estimator
        self.classes = classes
        self.random_state = random_state
        self.missing_label = missing_label
        self.open_label = open_label

    def _utilities(self, pool):
        if len(np.unique(pool.y_known)) < 2:
            # Nothing to tell apart yet: all candidates alike, ties at random.
            self.estimator_ = None
            return np.zeros(len(pool.candidates))
        if self.estimator is None:
            from .._openmax import OpenMaxClassifier

            estimator = OpenMaxClassifier(
                _default_classifier(), known_score="logsumexp"
            )
        else:
            estimator = self.estimator
        self.estimator_ = clone(estimator)
        _set_random_state(self.estimator_, pool.random_state)
        self.estimator_.fit(pool.X[pool.known_rows], pool.y_known)
        return self.estimator_.score_samples(pool.candidates)
