"""What every query strategy of the library shares: the pool, the batch.

The strategies follow scikit-activeml's pool-based API
(``skactiveml.base.SingleAnnotatorPoolQueryStrategy``): hyper-parameters in
``__init__``, the data in ``query(X, y, candidates=None, batch_size=1,
return_utilities=False)``. In ``y``, ``missing_label`` marks the unlabeled
pool and ``open_label`` the samples already shown to the annotator and found
to be from an unknown class (the "invalid set" of the LfOSA paper); any other
value is a known-class label.
"""

import math
from dataclasses import dataclass
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, column_or_1d

from ..utils._docstring import Substitution
from ..utils._validation import _is_same_label

__all__ = ["BaseOpenSetQueryStrategy"]

#: Docstring blocks of the query strategies' shared parameters and attributes,
#: for :class:`~sklearn_openset.utils._docstring.Substitution`.
STRATEGY_DOCS = {
    "estimator": """\
estimator : classifier with ``predict_proba`` or None{default}
    Cloned and fitted at each query. ``None``: a ``StandardScaler`` and
    ``LogisticRegression`` pipeline.""",
    "classes": """\
classes : array-like or None{default}
    The known classes. ``None``: those labeled in ``y``. Given, ``y`` may
    hold no other known label (a ``ValueError`` names the others).""",
    "random_state": """\
random_state : int, RandomState instance or None{default}
    Seeds the strategy's own model and the tie-breaking. The same int gives
    the same query for the same data.""",
    "missing_label": """\
missing_label : scalar or np.nan{default}
    Marks unlabeled samples in ``y``.""",
    "open_label": """\
open_label : scalar{default}
    Marks the samples of ``y`` found to be from an unknown class (the
    invalid set).""",
    "classes_": """\
classes_ : ndarray of shape (n_classes,)
    The known classes of the last query.""",
    "estimator_": """\
estimator_ : estimator or None
    The classifier fitted at the last query (``None`` when the labels held a
    single class).""",
}


def strategy_docs(*names):
    """A :class:`Substitution` with the blocks ``names`` of :data:`STRATEGY_DOCS`."""
    return Substitution(**{name: STRATEGY_DOCS[name] for name in names})


def _is_nan(value):
    return isinstance(value, float) and math.isnan(value)


def _label_mask(y, label):
    """Boolean mask of the entries of ``y`` equal to ``label`` (NaN matches NaN)."""
    if _is_nan(label):
        if y.dtype.kind == "f":
            return np.isnan(y)
        return np.fromiter((_is_nan(v) for v in y), dtype=bool, count=len(y))
    if label is None:
        return np.fromiter((v is None for v in y), dtype=bool, count=len(y))
    if y.dtype.kind in "biuf" and not isinstance(label, (str, bytes)):
        return y == label
    return np.fromiter((_is_same_label(v, label) for v in y), dtype=bool, count=len(y))


@dataclass
class _Pool:
    """The validated arguments of one query.

    ``X``: the samples; ``known_rows`` / ``invalid_rows``: rows of ``X``
    with a known label / marked ``open_label``; ``classes``: the known
    labels, sorted; ``y_known``: the index in ``classes`` of each row of
    ``known_rows``; ``candidates``: the samples to score; ``candidate_rows``:
    their rows in ``X`` (None when the candidates were given as samples);
    ``n_outputs``: the length of the returned utilities.
    """

    X: np.ndarray
    known_rows: np.ndarray
    invalid_rows: np.ndarray
    classes: np.ndarray
    y_known: np.ndarray
    candidates: np.ndarray
    candidate_rows: np.ndarray | None
    n_outputs: int
    random_state: np.random.RandomState

    def training_rows(self, with_invalid):
        """``(rows, targets)`` to learn from: the known rows and their class
        codes, then (``with_invalid``) the invalid rows with code
        ``len(classes)``, the unknown class."""
        if not with_invalid or len(self.invalid_rows) == 0:
            return self.known_rows, self.y_known
        rows = np.concatenate([self.known_rows, self.invalid_rows])
        unknown = np.full(len(self.invalid_rows), len(self.classes))
        return rows, np.concatenate([self.y_known, unknown])


class BaseOpenSetQueryStrategy(BaseEstimator):
    """Base of the pool-based query strategies for open-set annotation.

    A subclass implements ``_utilities(pool)``, the utility of each candidate
    (higher is queried first), and sets ``_needs_known_labels = False`` if it
    can query without any known label (random sampling).

    Selection: the ``batch_size`` candidates of highest utility, ties broken
    at random with ``random_state``. An int ``random_state`` gives the same
    query for the same data; it is combined with the number of unlabeled
    samples, as scikit-activeml does, so that successive cycles of a loop do
    not draw the same random numbers.
    """

    _needs_known_labels: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict] = {
        "classes": ["array-like", None],
        "missing_label": "no_validation",
        "open_label": "no_validation",
        "random_state": ["random_state"],
    }

    def query(self, X, y, candidates=None, batch_size=1, return_utilities=False):
        """Choose the samples to annotate next.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            The whole pool: labeled, invalid and unlabeled samples.
        y : array-like of shape (n_samples,)
            ``missing_label`` for unlabeled samples, ``open_label`` for
            samples found to be from an unknown class, the class label
            otherwise. Never modified.
        candidates : None, array-like of int of shape (n_candidates,), or \
array-like of shape (n_candidates, n_features), default=None
            ``None``: every unlabeled sample of ``X``. Indices: those rows of
            ``X``, which must be unlabeled. Samples: scored as given (the
            returned indices then refer to ``candidates``).
        batch_size : int, default=1
            Number of samples to query, at most the number of candidates.
        return_utilities : bool, default=False
            Also return the utilities.

        Returns
        -------
        query_indices : ndarray of shape (batch_size,)
            Rows of ``X`` to annotate (rows of ``candidates`` when they are
            samples), the most useful first.
        utilities : ndarray of shape (batch_size, n_samples) or \
(batch_size, n_candidates)
            Returned when ``return_utilities=True``, as scikit-activeml
            returns them: row ``i`` holds the utilities when the ``i``-th
            sample was chosen, NaN for samples that are not candidates and for
            the ``i`` samples chosen before it.
        """
        self._validate_params()
        pool = self._validate_pool(X, y, candidates, batch_size)
        utilities = np.asarray(self._utilities(pool), dtype=np.float64)
        return _select_batch(
            utilities, pool, batch_size, return_utilities, pool.random_state
        )

    def _utilities(self, pool):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- validation ----------------------------------------------------------
    def _validate_pool(self, X, y, candidates, batch_size):
        X = check_array(X, allow_nd=True, dtype="numeric", input_name="X")
        y = column_or_1d(np.array(y, copy=True), warn=True)
        if len(y) != len(X):
            raise ValueError(
                f"X and y have different lengths ({len(X)} and {len(y)}): y needs "
                "one entry per sample of X (missing_label for unlabeled ones)."
            )
        unlabeled = _label_mask(y, self.missing_label)
        invalid = ~unlabeled & _label_mask(y, self.open_label)
        known = ~unlabeled & ~invalid
        known_rows = np.flatnonzero(known)
        classes, y_known = self._known_classes(y[known_rows])
        if self._needs_known_labels and len(known_rows) == 0:
            raise ValueError(
                f"y holds no known-class label: {type(self).__name__} learns from "
                "the labeled samples. Label at least one sample of a known class "
                f"(unlabeled samples are missing_label={self.missing_label!r}, "
                f"unknown ones open_label={self.open_label!r})."
            )
        candidates, candidate_rows = self._validate_candidates(candidates, X, unlabeled)
        n_outputs = len(X) if candidate_rows is not None else len(candidates)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, Integral)
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        if batch_size > len(candidates):
            raise ValueError(
                f"batch_size={batch_size} but only {len(candidates)} candidates are "
                "left: ask for at most that many samples."
            )
        return _Pool(
            X=X,
            known_rows=known_rows,
            invalid_rows=np.flatnonzero(invalid),
            classes=classes,
            y_known=y_known,
            candidates=candidates,
            candidate_rows=candidate_rows,
            n_outputs=n_outputs,
            random_state=self._query_random_state(int(unlabeled.sum())),
        )

    def _known_classes(self, labels):
        """``(classes, codes)`` of the known labels; checks them against ``classes``."""
        found, codes = np.unique(labels, return_inverse=True)
        given = getattr(self, "classes", None)
        if given is None:
            self.classes_ = found
            return found, codes
        classes = np.unique(np.asarray(given))
        unseen = [label for label in found if label not in set(classes.tolist())]
        if unseen:
            raise ValueError(
                f"y holds labels {unseen} that are not in classes={classes.tolist()}: "
                "mark samples of unknown classes with open_label="
                f"{self.open_label!r}, or add the labels to classes."
            )
        self.classes_ = classes
        return classes, np.searchsorted(classes, labels)

    @staticmethod
    def _validate_candidates(candidates, X, unlabeled):
        if candidates is None:
            return X[unlabeled], np.flatnonzero(unlabeled)
        candidates = np.asarray(candidates)
        if candidates.ndim == 1:
            if candidates.dtype.kind not in "iu":
                raise TypeError(
                    "candidates must be None, an array of int indices into X, or an "
                    f"array of samples; got a 1-d array of dtype {candidates.dtype}."
                )
            outside = candidates[(candidates < 0) | (candidates >= len(X))]
            if len(outside):
                raise ValueError(
                    f"candidates {outside[:5].tolist()} are not rows of X (which has "
                    f"{len(X)} samples): pass indices in [0, {len(X)})."
                )
            labeled = candidates[~unlabeled[candidates]]
            if len(labeled):
                raise ValueError(
                    f"candidates {labeled[:5].tolist()} are already labeled (or marked "
                    "open_label) in y: candidates must be unlabeled samples "
                    "(y == missing_label)."
                )
            return X[candidates], candidates
        candidates = check_array(
            candidates, allow_nd=True, dtype="numeric", input_name="candidates"
        )
        if candidates.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"candidates have shape {candidates.shape[1:]} per sample but X has "
                f"{X.shape[1:]}: give samples like those of X, or indices into X."
            )
        return candidates, None

    def _query_random_state(self, n_unlabeled):
        seed = self.random_state
        if isinstance(seed, Integral) and not isinstance(seed, bool):
            return np.random.RandomState([int(seed), n_unlabeled])
        return check_random_state(seed)


def _select_batch(utilities, pool, batch_size, return_utilities, random_state):
    """The ``batch_size`` candidates of highest utility (random ties)."""
    tie_breaker = random_state.random_sample(len(utilities))
    order = np.lexsort((tie_breaker, -utilities))[:batch_size]
    rows = pool.candidate_rows
    chosen = order if rows is None else rows[order]
    if not return_utilities:
        return chosen
    full = np.full(pool.n_outputs, np.nan)
    full[np.arange(len(utilities)) if rows is None else rows] = utilities
    per_step = np.tile(full, (batch_size, 1))
    # Row i: the utilities when the i-th sample was chosen, the earlier ones NaN.
    earlier = np.tril(np.ones((batch_size, batch_size), dtype=bool), k=-1)
    per_step[:, chosen] = np.where(earlier, np.nan, per_step[:, chosen])
    return chosen, per_step
