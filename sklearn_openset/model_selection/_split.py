"""Cross-validation for tuning open-set classifiers without real unknowns."""

import math
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.model_selection import BaseCrossValidator, StratifiedShuffleSplit
from sklearn.utils import indexable
from sklearn.utils._param_validation import (
    Interval,
    RealNotInt,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _num_samples, check_random_state, column_or_1d

__all__ = ["PseudoOpenSetSplit"]


class PseudoOpenSetSplit(BaseCrossValidator):
    """Pseudo open-set cross-validator: hide some known classes as unknowns.

    Tuning an open-set classifier needs unknown samples, which a training set
    does not have. Each split draws a random subset of the classes of ``y`` as
    "sub-known" and treats the rest as "sub-open": the training indices are a
    stratified ``1 - test_size`` part of the sub-known samples; the test
    indices are the held-out sub-known samples plus *all* sub-open samples.
    A scorer that counts the labels not in ``estimator.classes_`` as open (the
    library's open-set scorers do) then measures how well the unknowns are
    rejected.

    This is the validation protocol of the ANS paper (Bai et al., 2022,
    appendix A.5), which tunes its hyper-parameters on the known classes only
    by splitting them again into sub-known and sub-open classes.

    Parameters
    ----------
    n_splits : int, default=5
        Number of splits. Each split uses a different set of sub-known
        classes, so ``n_splits`` may not exceed the number of such sets.

    sub_known_ratio : float in (0, 1), default=0.5
        Fraction of the classes of ``y`` that are sub-known in each split:
        ``n_sub_known = round(n_classes * sub_known_ratio)`` (Python's
        ``round``). At least 2 classes must be sub-known and 1 sub-open.

    test_size : float in (0, 1) or int, default=0.2
        Fraction (or number) of the sub-known samples held out for testing,
        stratified by class.

    random_state : int, RandomState instance or None, default=None
        Controls the class subsets and the sample splits. An int gives the
        same splits on every call of ``split``; with an int ``s`` the
        sub-known classes of the first split are those of
        ``select_known_classes(y, known_ratio=sub_known_ratio,
        random_state=s)``.

    See Also
    --------
    sklearn.model_selection.StratifiedShuffleSplit : The split of the
        sub-known samples.
    sklearn_openset.datasets.make_open_set_split : The same protocol for a
        single train / test split.

    Notes
    -----
    With :math:`C` classes and :math:`k` = ``round(C * sub_known_ratio)``,
    each split draws :math:`k` classes without replacement (never the same
    set twice in one call of ``split``); the training fold holds only these
    classes, so an estimator fitted on it has ``classes_`` of size :math:`k`
    and the test fold holds :math:`C - k` classes it never saw.

    A class is in :math:`\\binom{C-1}{k-1}` of the :math:`\\binom{C}{k}`
    possible sub-known sets, so with ``n_splits`` above
    :math:`\\binom{C-1}{k-1}` every class is sub-open in at least one split
    (with ``n_splits`` equal to :math:`\\binom{C}{k}` every set is used once).
    Fewer splits give no such promise. Every class needs at least 2 samples,
    since any class may be sub-known and have its samples split.

    References
    ----------
    .. [1] Bai et al., "Open World Classification with Adaptive Negative
       Samples" (ANS), EMNLP 2022, appendix A.5 (hyper-parameter selection).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.model_selection import PseudoOpenSetSplit
    >>> X = np.zeros((12, 1))
    >>> y = np.repeat([0, 1, 2, 3], 3)
    >>> cv = PseudoOpenSetSplit(n_splits=2, sub_known_ratio=0.5,
    ...                         test_size=1 / 3, random_state=0)
    >>> for train, test in cv.split(X, y):
    ...     print(np.unique(y[train]), y[test])
    [2 3] [0 0 0 1 1 1 2 3]
    [1 3] [0 0 0 1 2 2 2 3]
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "sub_known_ratio": [Interval(RealNotInt, 0, 1, closed="neither")],
        "test_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "random_state": ["random_state"],
    }

    def __init__(
        self, n_splits=5, *, sub_known_ratio=0.5, test_size=0.2, random_state=None
    ):
        self.n_splits = n_splits
        self.sub_known_ratio = sub_known_ratio
        self.test_size = test_size
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splitting iterations.

        Parameters
        ----------
        X : object
            Always ignored, exists for compatibility.

        y : object
            Always ignored, exists for compatibility.

        groups : object
            Always ignored, exists for compatibility.

        Returns
        -------
        n_splits : int
            The number of splits.
        """
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Generate indices to split data into training and test set.

        The parameters and ``y`` are checked when this is called, before the
        first split is drawn.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples; only their number is used.

        y : array-like of shape (n_samples,)
            Class labels, required: the classes are split on them. Each
            class needs at least 2 samples.

        groups : object
            Always ignored, exists for compatibility.

        Returns
        -------
        splits : generator of (train, test) tuples
            ``train``: indices of the training samples, all of sub-known
            classes; ``test``: indices of the held-out sub-known samples and
            of all sub-open samples. Together they cover every sample once.

        Raises
        ------
        ValueError
            If ``y`` is None, a parameter is invalid, a class of ``y`` has
            a single sample, ``sub_known_ratio`` leaves fewer than 2 sub-known
            or no sub-open class, or ``n_splits`` exceeds the number of
            distinct sub-known sets.
        """
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        if y is None:
            raise ValueError(
                "The 'y' parameter should not be None: PseudoOpenSetSplit draws "
                "the sub-known classes from the labels y."
            )
        X, y, groups = indexable(X, y, groups)
        y = column_or_1d(y, warn=False)
        classes, y_encoded = np.unique(y, return_inverse=True)
        n_classes = len(classes)
        n_sub_known = round(n_classes * self.sub_known_ratio)
        if n_sub_known < 2 or n_sub_known >= n_classes:
            raise ValueError(
                f"sub_known_ratio={self.sub_known_ratio!r} with {n_classes} classes "
                f"in y gives {n_sub_known} sub-known and {n_classes - n_sub_known} "
                "sub-open classes; at least 2 sub-known and 1 sub-open class are "
                "needed. Change sub_known_ratio."
            )
        counts = np.bincount(y_encoded, minlength=n_classes)
        if np.any(counts < 2):
            # Checked here, with the labels: StratifiedShuffleSplit would name
            # the encoded index of the class, and only when the class happens
            # to be drawn as sub-known.
            too_few = classes[counts < 2].tolist()
            raise ValueError(
                f"The classes {too_few!r} of y have only 1 member each, which is "
                "too few: a class may be sub-known in any split, and its samples "
                "are then split into training and test by StratifiedShuffleSplit, "
                "which needs at least 2 per class. Remove these classes from the "
                "data or gather more samples of them."
            )
        n_subsets = math.comb(n_classes, n_sub_known)
        if self.n_splits > n_subsets:
            raise ValueError(
                f"n_splits={self.n_splits} is more than the {n_subsets} distinct "
                f"ways to choose {n_sub_known} sub-known classes out of "
                f"{n_classes}. Lower n_splits or change sub_known_ratio."
            )
        return super().split(X, y_encoded, groups)

    def _iter_test_masks(self, X, y, groups=None):
        """Test masks; ``y`` is already encoded to ``0 .. n_classes - 1``."""
        rng = check_random_state(self.random_state)
        n_samples = _num_samples(X)
        n_classes = int(y.max()) + 1
        n_sub_known = round(n_classes * self.sub_known_ratio)
        drawn = set()
        while len(drawn) < self.n_splits:
            subset = np.sort(rng.choice(n_classes, n_sub_known, replace=False))
            key = tuple(subset.tolist())
            if key in drawn:
                continue
            drawn.add(key)
            sub_known = np.flatnonzero(np.isin(y, subset))
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=self.test_size, random_state=rng
            )
            train, _ = next(splitter.split(sub_known, y[sub_known]))
            test_mask = np.ones(n_samples, dtype=bool)
            test_mask[sub_known[train]] = False
            yield test_mask
