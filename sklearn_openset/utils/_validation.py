"""Label handling shared by every open-set estimator, metric and scorer."""

import numbers

import numpy as np
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


def check_open_label(classes, open_label, *, param_hint="open_label"):
    """Raise a ``ValueError`` if ``open_label`` is one of the known classes.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        The known class labels.
    open_label : int, str or None
        The label returned for rejected inputs.
    param_hint : str, default="open_label"
        Parameter name used in the error message.
    """
    if open_label is None:
        raise ValueError(
            f"{param_hint}=None is not allowed: an open-set classifier needs a "
            "label for rejected inputs (the default is -1)."
        )
    for label in np.asarray(classes, dtype=object).ravel():
        if _is_same_label(label, open_label):
            raise ValueError(
                f"{param_hint}={open_label!r} is also a class label in y. y must "
                "hold known-class labels only; pick an open_label that is not a "
                f"class, e.g. {param_hint}={_suggest_open_label(classes)!r}."
            )


def _suggest_open_label(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "iuf":
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
    classes, y_encoded = _unique_inverse(y)
    if classes.shape[0] < min_classes:
        raise ValueError(
            f"y has {classes.shape[0]} class(es) ({classes.tolist()!r}); an open-set "
            f"classifier needs at least {min_classes} known classes to learn from. "
            "Pass training data with more than one class."
        )
    check_open_label(classes, open_label)
    return classes, y_encoded.astype(np.int64, copy=False)


def _unique_inverse(y):
    """``np.unique(y, return_inverse=True)`` for 1-D ``y``, without a sort for
    integer labels of a compact range (the usual ``0..C-1``): counting them is
    several times faster than sorting them."""
    if y.ndim == 1 and y.size and y.dtype.kind in "iu":
        low = y.min()
        span = int(y.max()) - int(low)
        if span < 2 * y.size + 1024:
            # No overflow: the span is small and, for signed types, the
            # subtraction happens in int64 (an int8 span can exceed int8).
            offsets = y - low if y.dtype.kind == "u" else y.astype(np.int64) - low
            offsets = offsets.astype(np.intp, copy=False)
            present = np.bincount(offsets, minlength=span + 1) > 0
            wide = np.uint64 if y.dtype.kind == "u" else np.int64
            classes = np.flatnonzero(present).astype(wide) + wide(low)
            classes = classes.astype(y.dtype, copy=False)
            position = np.cumsum(present) - 1
            return classes, position[offsets]
    return np.unique(y, return_inverse=True)


def open_set_label_dtype(classes, open_label):
    """Dtype able to hold every label of ``classes`` and ``open_label``."""
    classes = np.asarray(classes)
    open_array = np.asarray(open_label)
    numeric = "biuf"
    if classes.dtype.kind in numeric and open_array.dtype.kind in numeric:
        return np.result_type(classes.dtype, open_array.dtype)
    if classes.dtype.kind in "US" and open_array.dtype.kind == classes.dtype.kind:
        return np.result_type(classes.dtype, open_array.dtype)
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
