"""Open-set splits: choose the known classes, hide the others from training."""

from numbers import Integral

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, RealNotInt, validate_params
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_random_state,
    column_or_1d,
)

from ..utils._validation import check_open_label, encode_open_set, open_set_label_dtype

__all__ = [
    "CAC_MNIST_KNOWN_CLASSES",
    "make_open_set_split",
    "relabel_open_set",
    "select_known_classes",
]

#: The five known-class sets (6 known digits, 4 unknown) of the CAC reference
#: code (Miller et al., WACV 2021), one per trial of the MNIST benchmark.
CAC_MNIST_KNOWN_CLASSES = (
    (0, 1, 2, 4, 5, 9),
    (0, 3, 5, 7, 8, 9),
    (0, 1, 5, 6, 7, 8),
    (3, 4, 5, 7, 8, 9),
    (0, 1, 2, 3, 7, 8),
)

_RATIO = Interval(RealNotInt, 0, 1, closed="neither")
_TEST_SIZE = [
    Interval(RealNotInt, 0, 1, closed="neither"),
    Interval(Integral, 1, None, closed="left"),
]
_OPEN_LABEL = [Integral, str]


def _as_labels(y):
    """Return ``y`` as a 1d ndarray of labels (strings stay strings)."""
    return column_or_1d(y, warn=False)


def _isin(values, labels):
    """Boolean mask of ``values`` found in ``labels``, safe for mixed types."""
    return encode_open_set(values, labels) < len(labels)


@validate_params(
    {
        "classes": ["array-like"],
        "known_ratio": [_RATIO, None],
        "known_classes": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def select_known_classes(
    classes, *, known_ratio=None, known_classes=None, random_state=None
):
    """Choose the known classes of an open-set benchmark.

    With ``known_ratio``, this is the recipe of the open intent classification
    papers (TEXTOIR, ADB, ANS): ``n_known = round(n_classes * known_ratio)``
    (Python's ``round``, which rounds halves to even), drawn from the sorted
    unique labels with ``np.random.seed(seed); np.random.choice(labels,
    n_known, replace=False)``. The same draw is made here with a private
    :class:`numpy.random.RandomState`, so the global numpy generator is left
    untouched. With ``known_classes``, the given classes are checked and
    returned (the CAC trials use fixed lists, see
    :data:`CAC_MNIST_KNOWN_CLASSES`).

    Parameters
    ----------
    classes : array-like of shape (n_labels,)
        The labels to choose from. Duplicates are ignored, so the target
        vector ``y`` itself can be passed.

    known_ratio : float in (0, 1), default=None
        Fraction of the classes that are known. Exactly one of
        ``known_ratio`` and ``known_classes`` must be given.

    known_classes : array-like, default=None
        The known classes, given explicitly. Each must be one of ``classes``.

    random_state : int, RandomState instance or None, default=None
        Seed of the draw when ``known_ratio`` is given. An int ``s`` gives
        the classes that ``np.random.seed(s)`` followed by
        ``np.random.choice`` gives in the papers' code. Ignored with
        ``known_classes``.

    Returns
    -------
    known : ndarray of shape (n_known,)
        The known classes, sorted, of the dtype of ``classes``.

    Raises
    ------
    ValueError
        If both or neither of ``known_ratio`` and ``known_classes`` are given,
        if fewer than two classes would be known or none unknown, or if
        ``known_classes`` holds a label that is not in ``classes``.

    See Also
    --------
    make_open_set_split : Split a data set with the known classes chosen here.

    Examples
    --------
    >>> from sklearn_openset.datasets import select_known_classes
    >>> select_known_classes(range(10), known_ratio=0.6, random_state=0)
    array([1, 2, 4, 6, 8, 9])
    >>> select_known_classes(["a", "b", "c", "d"], known_classes=["d", "a"])
    array(['a', 'd'], dtype='<U1')
    """
    if (known_ratio is None) == (known_classes is None):
        raise ValueError(
            "Pass exactly one of known_ratio and known_classes; got "
            f"known_ratio={known_ratio!r} and known_classes={known_classes!r}."
        )
    classes = np.unique(_as_labels(classes))
    n_classes = len(classes)

    if known_ratio is not None:
        n_known = round(n_classes * known_ratio)
        source = f"known_ratio={known_ratio!r} of {n_classes} classes"
    else:
        known_classes = np.unique(_as_labels(known_classes))
        missing = set(known_classes.tolist()) - set(classes.tolist())
        if missing:
            raise ValueError(
                f"known_classes must be a subset of the classes; {sorted(missing)!r} "
                f"not among the {n_classes} classes {classes.tolist()!r}."
            )
        n_known = len(known_classes)
        source = f"known_classes={known_classes.tolist()!r}"

    if n_known < 2:
        raise ValueError(
            f"{source} gives {n_known} known class(es); at least 2 are needed."
        )
    if n_known >= n_classes:
        raise ValueError(
            f"{source} gives {n_known} known classes out of {n_classes}: no "
            "class would be unknown; at least 1 is needed."
        )

    if known_ratio is not None:
        rng = check_random_state(random_state)
        return np.sort(rng.choice(classes, n_known, replace=False))
    return classes[_isin(classes, known_classes)]


@validate_params(
    {
        "y": ["array-like"],
        "known_classes": ["array-like"],
        "open_label": _OPEN_LABEL,
    },
    prefer_skip_nested_validation=True,
)
def relabel_open_set(y, known_classes, *, open_label=-1):
    """Replace every label that is not a known class by ``open_label``.

    For data sets with a predefined test set: the test labels of the classes
    unseen in training become the open class.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels. Not modified.

    known_classes : array-like
        The known classes.

    open_label : int or str, default=-1
        The label given to the other classes. Must not be a known class.

    Returns
    -------
    y_open : ndarray of shape (n_samples,)
        A new array. Its dtype holds both the labels and ``open_label``, by
        the rule of the estimators' ``predict``
        (:func:`~sklearn_openset.utils.open_set_label_dtype`): numeric labels
        with an integer ``open_label`` stay numeric (integers widened and
        signed if needed), string labels with a string ``open_label`` stay
        strings, any other mix is of object dtype, boolean labels with an
        integer ``open_label`` included (``True``, ``False`` and ``-1``).

    Raises
    ------
    ValueError
        If ``open_label`` is one of ``known_classes``.

    Examples
    --------
    >>> from sklearn_openset.datasets import relabel_open_set
    >>> relabel_open_set([0, 1, 2, 3, 1], known_classes=[0, 1])
    array([ 0,  1, -1, -1,  1])
    >>> relabel_open_set(["cat", "dog", "fox"], ["cat", "dog"])
    array(['cat', 'dog', -1], dtype=object)
    """
    y = _as_labels(y)
    known_classes = np.unique(_as_labels(known_classes))
    check_open_label(known_classes, open_label, input_name="known_classes")
    y_open = y.astype(open_set_label_dtype(y, open_label), copy=True)
    y_open[~_isin(y, known_classes)] = open_label
    return y_open


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "known_ratio": [_RATIO, None],
        "known_classes": ["array-like", None],
        "test_size": _TEST_SIZE,
        "open_label": _OPEN_LABEL,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_open_set_split(
    X,
    y,
    *,
    known_ratio=None,
    known_classes=None,
    test_size=0.3,
    open_label=-1,
    random_state=None,
):
    """Split a labelled data set into an open-set train and test set.

    The protocol of class-split open-set benchmarks: the rows are split by a
    stratified :func:`~sklearn.model_selection.train_test_split`, the known
    classes are chosen by :func:`select_known_classes`, the training rows of
    the other (unknown) classes are dropped and their test labels become
    ``open_label``.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Samples: a 2d feature array, images of any number of dimensions, a
        list of texts, a DataFrame or a sparse matrix. Not modified.

    y : array-like of shape (n_samples,)
        Labels of all classes, known and unknown. Not modified.

    known_ratio : float in (0, 1), default=None
        Fraction of the classes that are known (see
        :func:`select_known_classes`). Exactly one of ``known_ratio`` and
        ``known_classes`` must be given.

    known_classes : array-like, default=None
        The known classes, given explicitly.

    test_size : float in (0, 1) or int, default=0.3
        Fraction (or number) of all rows, of all classes, held out for
        testing, as in :func:`~sklearn.model_selection.train_test_split`.

    open_label : int or str, default=-1
        The test label of the unknown classes. Must not be a label of ``y``.

    random_state : int, RandomState instance or None, default=None
        Seeds the row split and, after it, the choice of the known classes.
        With an int ``s`` the known classes are those of
        ``select_known_classes(y, known_ratio=known_ratio, random_state=s)``
        and the rows are those of ``train_test_split(X, y,
        test_size=test_size, stratify=y, random_state=s)``.

    Returns
    -------
    X_train : same type as X
        Training samples of the known classes only.

    X_test : same type as X
        Test samples of all classes.

    y_train : ndarray of shape (n_train,)
        Training labels, all known.

    y_test : ndarray of shape (n_test,)
        Test labels, unknown classes replaced by ``open_label``. Its dtype
        holds both (object dtype for string labels and an int
        ``open_label``), see :func:`relabel_open_set`.

    Raises
    ------
    ValueError
        If ``open_label`` is a label of ``y``, or for the errors of
        :func:`select_known_classes` and
        :func:`~sklearn.model_selection.train_test_split`.

    See Also
    --------
    select_known_classes : The choice of the known classes.
    relabel_open_set : Map the labels of unknown classes to ``open_label``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.datasets import make_open_set_split
    >>> X = np.arange(40).reshape(20, 2)
    >>> y = np.repeat([0, 1, 2, 3], 5)
    >>> X_train, X_test, y_train, y_test = make_open_set_split(
    ...     X, y, known_ratio=0.5, test_size=0.4, random_state=0)
    >>> np.unique(y_train)
    array([2, 3])
    >>> y_test
    array([ 3, -1,  2, -1,  3,  2, -1, -1])
    """
    y = _as_labels(y)
    check_consistent_length(X, y)
    classes = np.unique(y)
    check_open_label(classes, open_label, input_name="y")

    indices = np.arange(_num_samples(X))
    train, test = train_test_split(
        indices, test_size=test_size, stratify=y, random_state=random_state
    )
    known = select_known_classes(
        classes,
        known_ratio=known_ratio,
        known_classes=known_classes,
        random_state=random_state,
    )
    train = train[_isin(y[train], known)]
    return (
        _safe_indexing(X, train),
        _safe_indexing(X, test),
        y[train],
        relabel_open_set(y[test], known, open_label=open_label),
    )
