"""Label handling shared by every open-set estimator, metric and scorer."""

import numbers

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d


def _is_same_label(a, b):
    """Compare two labels without numpy's elementwise/str-vs-int surprises."""
    if isinstance(a, (str, bytes)) != isinstance(b, (str, bytes)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def check_open_label(classes, open_label, *, param_hint="open_label", input_name="y"):
    """Raise a ``ValueError`` if ``open_label`` is one of the class labels.

    Labels compare as in Python: ``"1"`` and ``1`` differ, ``True`` and ``1``
    are the same label.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The class labels.
    open_label : int, str or None
        The label returned for rejected inputs.
    param_hint : str, default="open_label"
        Parameter name used in the error message.
    input_name : str, default="y"
        Name of the array of class labels, used in the error message.
    """
    if open_label is None:
        raise ValueError(
            f"{param_hint}=None is not allowed: an open-set classifier needs a "
            "label for rejected inputs (the default is -1)."
        )
    for label in np.asarray(classes, dtype=object).ravel():
        if _is_same_label(label, open_label):
            raise ValueError(
                f"{param_hint}={open_label!r} is also a class label in "
                f"{input_name}; the open class needs a label of its own. Pick an "
                f"{param_hint} that is not a class label, e.g. "
                f"{param_hint}={_suggest_open_label(classes)!r}."
            )


def _suggest_open_label(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuf":
        return int(np.min(classes)) - 1
    return "unknown"


def encode_known_labels(y, open_label, *, min_classes=2):
    """Validate classification targets of known classes and encode them.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Known-class labels.
    open_label : int or str
        Label reserved for unknown inputs; must not occur in ``y``.
    min_classes : int, default=2
        Fewest distinct classes the estimator can learn from.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted unique labels.
    y_encoded : ndarray of shape (n_samples,), dtype int64
        Index of each label in ``classes``.
    """
    # 1-D integer, boolean or string arrays are always binary or multiclass
    # targets: skip type_of_target, whose scans cost more than the rest of a
    # fast fit (OpenMax on precomputed activations).
    if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "biuUS"):
        check_classification_targets(y)
        # A column vector is taken as 1-D, with scikit-learn's warning.
        y = column_or_1d(y, warn=True)
    y = np.asarray(y)
    classes, y_encoded = np.unique(y, return_inverse=True)
    if classes.shape[0] < min_classes:
        raise ValueError(
            f"y has {classes.shape[0]} class(es) ({classes.tolist()!r}); an open-set "
            f"classifier needs at least {min_classes} known classes to learn from. "
            "Pass training data with more than one class."
        )
    check_open_label(classes, open_label)
    return classes, y_encoded.astype(np.int64, copy=False)


def open_set_label_dtype(classes, open_label):
    """Dtype able to hold every label of ``classes`` and ``open_label``.

    Numbers with a number keep a numeric dtype (``np.result_type``: integers
    are widened, and made signed for a negative ``open_label``), strings with a
    string keep a string dtype; any other mix is of object dtype, booleans with
    anything but a boolean included, so that ``True`` and ``False`` stay
    booleans next to an ``open_label`` of ``-1`` instead of becoming ``1`` and
    ``0``.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The class labels (only their dtype is used).
    open_label : int or str
        The label of the open class.

    Returns
    -------
    dtype : numpy.dtype
    """
    classes_kind = np.asarray(classes).dtype.kind
    open_dtype = np.asarray(open_label).dtype
    if (classes_kind == "b") != (open_dtype.kind == "b"):
        return np.dtype(object)
    if (classes_kind in "biuf" and open_dtype.kind in "biuf") or (
        classes_kind in "US" and open_dtype.kind == classes_kind
    ):
        return np.result_type(np.asarray(classes).dtype, open_dtype)
    return np.dtype(object)


def labels_with_open(classes, class_index, reject, open_label):
    """Turn closed-set indices and a rejection mask into output labels.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
    class_index : ndarray of shape (n_samples,)
        Index into ``classes`` of the closed-set decision.
    reject : ndarray of shape (n_samples,), dtype bool
        Where ``True``, the output is ``open_label``.
    open_label : int or str

    Returns
    -------
    y_pred : ndarray of shape (n_samples,)
    """
    dtype = open_set_label_dtype(classes, open_label)
    y_pred = np.asarray(classes).astype(dtype)[np.asarray(class_index)]
    y_pred[np.asarray(reject, dtype=bool)] = open_label
    return y_pred


def encode_open_set(y, known_labels):
    """Map labels to ``0..C-1`` for known labels and ``C`` for everything else.

    Every label not among ``known_labels`` (``open_label`` included, since fit
    forbids it as a class) counts as open: this is how metrics and scorers
    treat test labels of classes never seen in training.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    known_labels : array-like of shape (n_classes,)

    Returns
    -------
    codes : ndarray of shape (n_samples,), dtype int64
    """
    y = np.asarray(y)
    known = np.asarray(known_labels)
    n_known = known.shape[0]
    if y.ndim != 1:
        y = np.ravel(y) if y.ndim == 2 and 1 in y.shape else y
        if y.ndim != 1:
            raise ValueError(f"Expected 1-D labels, got shape {np.shape(y)}.")
    same_kind = (y.dtype.kind in "biuf" and known.dtype.kind in "biuf") or (
        y.dtype.kind in "US" and y.dtype.kind == known.dtype.kind
    )
    if same_kind:
        order = np.argsort(known, kind="stable")
        sorted_known = known[order]
        position = np.searchsorted(sorted_known, y)
        position_clipped = np.minimum(position, n_known - 1)
        found = sorted_known[position_clipped] == y
        codes = np.where(found, order[position_clipped], n_known)
    else:
        lookup = {}
        for index, label in enumerate(known.tolist()):
            lookup.setdefault(_hashable(label), index)
        codes = np.fromiter(
            (lookup.get(_hashable(label), n_known) for label in y.tolist()),
            dtype=np.int64,
            count=y.shape[0],
        )
    return codes.astype(np.int64, copy=False)


def _hashable(label):
    # numpy scalars and Python numbers of the same value must meet in the dict;
    # strings stay strings so that "1" and 1 remain different labels.
    if isinstance(label, (str, bytes)):
        return ("s", label)
    if isinstance(label, numbers.Number):
        return ("n", label)
    return ("o", label)


def check_fitted_classes(fitted, classes, owner):
    """Raise unless the fitted ``estimator`` of ``owner`` has ``classes`` as ``classes_``.

    A meta-estimator whose inner classifier was fitted on ``y`` always agrees
    with ``np.unique(y)``; one given fitted and frozen
    (:class:`sklearn.frozen.FrozenEstimator`) keeps the classes it was
    trained on, which may differ from those of the ``y`` given to ``fit``.

    Parameters
    ----------
    fitted : classifier
        The fitted inner classifier (``estimator_``).
    classes : ndarray of shape (n_classes,)
        The sorted known classes of ``y``.
    owner : str
        Name of the meta-estimator, for the message.
    """
    inner = getattr(fitted, "classes_", None)
    if inner is not None and np.array_equal(np.asarray(inner), classes):
        return
    frozen = isinstance(fitted, FrozenEstimator)
    raise ValueError(
        f"{owner} needs estimator.classes_ to be the classes of y in sorted "
        f"order; estimator.classes_ is {_short(inner)} and np.unique(y) is "
        f"{_short(classes)}."
        + (
            " The FrozenEstimator is never refitted: fit with y holding exactly "
            "the classes it was trained on, or freeze an estimator fitted on "
            "the classes of y."
            if frozen
            else " Use a classifier whose classes_ follow np.unique(y)."
        )
    )


def _short(labels, limit=10):
    """A list of at most ``limit`` labels for a message."""
    if labels is None:
        return "missing"
    labels = np.asarray(labels).tolist()
    if len(labels) <= limit:
        return repr(labels)
    return f"{len(labels)} labels starting {labels[:limit]!r}"
