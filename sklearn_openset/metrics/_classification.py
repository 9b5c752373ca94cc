"""Open-set classification metrics, built on :mod:`sklearn.metrics`."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..utils._validation import _is_same_label, encode_open_set


def _as_labels(y):
    """A 1-D array of labels in which Python values keep their types.

    A list such as ``["cat", -1]`` becomes an object array, not numpy's
    ``["cat", "-1"]``; typed arrays are kept as they are.
    """
    if not isinstance(y, np.ndarray) or y.dtype.kind == "O":
        y = np.asarray(y, dtype=object)
    return column_or_1d(y, warn=True)


def _is_string(y):
    """Mask of the string (or bytes) labels of a 1-D array."""
    if y.dtype.kind == "O":
        return np.fromiter(
            (isinstance(v, (str, bytes)) for v in y.tolist()), bool, y.shape[0]
        )
    return np.full(y.shape, y.dtype.kind in "US")


def _label_masks(y, open_label):
    """Which entries of ``y`` are ``open_label``, and which are strings."""
    is_str = _is_string(y)
    if y.dtype.kind == "O":
        is_open = np.fromiter(
            (_is_same_label(v, open_label) for v in y.tolist()), bool, y.shape[0]
        )
        return is_open, is_str
    open_kind = np.asarray(open_label).dtype.kind
    comparable = (y.dtype.kind in "biuf" and open_kind in "biuf") or (
        y.dtype.kind in "US" and open_kind == y.dtype.kind
    )
    is_open = y == open_label if comparable else np.zeros(y.shape, dtype=bool)
    return np.asarray(is_open, dtype=bool), is_str


def _check_label_types(masks, open_label):
    """Raise scikit-learn's "Mix of label input types" for strings and numbers.

    ``open_label`` is left out: string classes with an int ``open_label``
    (what the estimators predict) are not a mix.
    """
    held = {}
    for name, (is_open, is_str) in masks.items():
        strings = is_str[~is_open]
        kinds = []
        if strings.any():
            kinds.append("strings")
        if not strings.all():
            kinds.append("numbers")
        held[name] = kinds
    if {kind for kinds in held.values() for kind in kinds} == {"strings", "numbers"}:
        detail = "; ".join(
            f"{name} holds {' and '.join(kinds)}"
            for name, kinds in held.items()
            if kinds
        )
        raise ValueError(
            f"Mix of label input types (string and number): {detail} "
            f"(open_label={open_label!r} aside). Give every label of "
            f"{_join(list(masks))} one type: all strings or all numbers."
        )


def _join(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _tidy(y, is_str=None):
    """Give an object array of labels of one kind its natural dtype.

    Strings with numbers (string classes and an int ``open_label``) stay an
    object array, so that numpy never turns ``-1`` into ``"-1"``.
    """
    if y.dtype.kind != "O" or y.shape[0] == 0:
        return y
    if is_str is None:
        is_str = _is_string(y)
    if is_str.any() and not is_str.all():
        return y
    try:
        tidy = np.asarray(y.tolist())
    except (TypeError, ValueError):
        return y
    return tidy if tidy.dtype.kind in "biufUS" and tidy.shape == y.shape else y


def _check_open_set_targets(
    y_true,
    y_pred,
    labels,
    open_label,
    *,
    pred_name="y_pred",
    pred_is_labels=True,
    return_known=False,
):
    """Validate the labels given to a metric and encode them.

    The known classes are ``labels`` less ``open_label`` or, when ``labels``
    is None, every label of ``y_true`` and ``y_pred`` other than
    ``open_label``. Strings mixed with numbers (``open_label`` aside) raise.

    Returns
    -------
    true_codes : ndarray of shape (n_samples,)
        ``0 .. C-1`` for the known classes, ``C`` for the open class.
    pred_codes : ndarray of shape (n_samples,)
        The same for ``y_pred``; only when ``pred_is_labels`` (otherwise
        ``y_pred``, named ``pred_name`` in messages, holds scores and is only
        checked for its length, and ``C`` may be 0).
    n_known : int or ndarray
        C, the number of known classes; with ``return_known``, the sorted
        known classes themselves.
    """
    arrays = {"y_true": _as_labels(y_true)}
    arrays[pred_name] = (
        _as_labels(y_pred) if pred_is_labels else column_or_1d(y_pred, warn=True)
    )
    check_consistent_length(arrays["y_true"], arrays[pred_name])
    if arrays["y_true"].shape[0] == 0:
        raise ValueError(
            f"y_true and {pred_name} are empty: there is no sample to score. "
            "Pass at least one sample."
        )
    if not pred_is_labels:
        del arrays[pred_name]
    if labels is not None:
        known = labels
        if not isinstance(known, np.ndarray) or known.dtype.kind == "O":
            known = np.asarray(known, dtype=object)
        if known.ndim != 1 or known.shape[0] == 0:
            raise ValueError(
                "labels must be a non-empty 1-D array of the known class labels, "
                f"got shape {known.shape}."
            )
        arrays["labels"] = known
    masks = {name: _label_masks(y, open_label) for name, y in arrays.items()}
    _check_label_types(masks, open_label)

    if labels is not None:
        is_open, is_str = masks["labels"]
        # open_label in labels is the open class, never a known one.
        known = _tidy(arrays["labels"][~is_open], is_str[~is_open])
        if known.shape[0] == 0:
            raise ValueError(
                f"labels holds only open_label={open_label!r}; pass the known "
                "class labels."
            )
    else:
        parts = [
            _tidy(y[~masks[name][0]], masks[name][1][~masks[name][0]])
            for name, y in arrays.items()
        ]
        parts = [part for part in parts if part.shape[0]]
        if not parts and pred_is_labels:
            raise ValueError(
                f"y_true and {pred_name} hold only open_label={open_label!r}, so "
                "the known classes cannot be inferred; pass labels= with the "
                "known class labels."
            )
        known = np.concatenate(parts) if parts else arrays["y_true"][:0]
    known = np.unique(_tidy(known))

    codes = [
        encode_open_set(_tidy(y, masks[name][1]), known)
        for name, y in arrays.items()
        if name != "labels"
    ]
    return (*codes, known if return_known else known.shape[0])


_LABELS_PARAMS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "labels": ["array-like", None],
    "open_label": "no_validation",
}


def _per_class_f1(y_true, y_pred, labels, open_label):
    """``(known_classes, f1)``: the F1 of each known class, then of the open class."""
    true_codes, pred_codes, known = _check_open_set_targets(
        y_true, y_pred, labels, open_label, return_known=True
    )
    per_class = f1_score(
        true_codes,
        pred_codes,
        labels=np.arange(len(known) + 1),
        average=None,
        zero_division=0.0,
    )
    return known, per_class


@validate_params(
    {**_LABELS_PARAMS, "average": [StrOptions({"macro", "known", "open"})]},
    prefer_skip_nested_validation=True,
)
def open_set_f1_score(y_true, y_pred, *, labels=None, open_label=-1, average="macro"):
    """F1 score over the known classes and the open class.

    Every label of ``y_true`` or ``y_pred`` that is ``open_label`` or not in
    ``labels`` belongs to the open class. The per-class F1 of the C known
    classes and of the open class are computed with
    :func:`sklearn.metrics.f1_score`; a class absent from both arrays scores 0.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels; unknown samples carry ``open_label`` (or any label not in
        ``labels``).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, ``open_label`` for rejected samples.
    labels : array-like of shape (n_classes,), default=None
        The known classes. By default every label seen in ``y_true`` or
        ``y_pred`` other than ``open_label``. ``open_label`` itself may be
        among ``labels`` (e.g. ``labels=np.unique(y_true)``): it is dropped,
        since it always names the open class, never a known one.
    open_label : int or str, default=-1
        Label of the open class. It is left out of the type check below, so
        string classes with an int ``open_label`` (what the estimators
        predict) are fine.
    average : {"macro", "known", "open"}, default="macro"
        ``"macro"``: mean of the C + 1 per-class F1 (the open-intent
        papers' macro-F1, as in TEXTOIR/ADB and ANS). ``"known"``: mean over
        the C known classes (F1-known). ``"open"``: F1 of the open class
        (F1-open).

    Returns
    -------
    score : float

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` are empty or of different lengths; if
        ``y_true``, ``y_pred`` and ``labels`` mix strings and numbers
        (``open_label`` aside), as :mod:`sklearn.metrics` refuses; if
        ``labels`` is None and every label is ``open_label``, or ``labels``
        holds ``open_label`` only.

    Notes
    -----
    With :math:`F_k` the F1 of class :math:`k` and :math:`F_{open}` that of
    the open class, ``macro`` is
    :math:`\\frac{1}{C+1}\\left(\\sum_{k=1}^{C} F_k + F_{open}\\right)`.

    References
    ----------
    .. [1] H. Zhang, H. Xu, T.-E. Lin, "Deep Open Intent Classification with
       Adaptive Decision Boundary", AAAI 2021.
    .. [2] K. Bai et al., "Open World Classification with Adaptive Negative
       Samples" (ANS), EMNLP 2022.

    Examples
    --------
    >>> from sklearn_openset.metrics import open_set_f1_score
    >>> y_true = [0, 0, 1, 1, -1, -1]
    >>> y_pred = [0, 1, 1, 1, -1, 0]
    >>> round(open_set_f1_score(y_true, y_pred), 4)
    0.6556
    >>> round(open_set_f1_score(y_true, y_pred, average="open"), 4)
    0.6667
    """
    _, per_class = _per_class_f1(y_true, y_pred, labels, open_label)
    n_known = len(per_class) - 1
    if average == "known":
        return float(np.mean(per_class[:n_known]))
    if average == "open":
        return float(per_class[n_known])
    return float(np.mean(per_class))


@validate_params(_LABELS_PARAMS, prefer_skip_nested_validation=True)
def open_set_accuracy_score(y_true, y_pred, *, labels=None, open_label=-1):
    """Accuracy over the known classes and the open class.

    A sample is right when its predicted label equals its true label, where
    every true label not in ``labels`` must be predicted as ``open_label``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples,)
    labels : array-like of shape (n_classes,), default=None
        The known classes (default: every label seen other than
        ``open_label``). ``open_label`` among them is dropped.
    open_label : int or str, default=-1

    Returns
    -------
    score : float

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` are empty or of different lengths; if
        ``y_true``, ``y_pred`` and ``labels`` mix strings and numbers
        (``open_label`` aside), as :mod:`sklearn.metrics` refuses; if
        ``labels`` is None and every label is ``open_label``, or ``labels``
        holds ``open_label`` only.

    Examples
    --------
    >>> from sklearn_openset.metrics import open_set_accuracy_score
    >>> open_set_accuracy_score([0, 1, 7, 8], [0, -1, -1, -1], labels=[0, 1])
    0.75
    """
    true_codes, pred_codes, _ = _check_open_set_targets(
        y_true, y_pred, labels, open_label
    )
    return float(accuracy_score(true_codes, pred_codes))


@validate_params(_LABELS_PARAMS, prefer_skip_nested_validation=True)
def closed_set_accuracy_score(y_true, y_pred, *, labels=None, open_label=-1):
    """Accuracy on the known-class samples of ``y_true`` only.

    ``y_pred`` should be a closed-set prediction (the arg-max over known
    classes, never ``open_label``); samples of unknown classes in ``y_true``
    are ignored.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples,)
    labels : array-like of shape (n_classes,), default=None
        The known classes (default: every label seen other than
        ``open_label``). ``open_label`` among them is dropped.
    open_label : int or str, default=-1

    Returns
    -------
    score : float

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` are empty or of different lengths; if
        ``y_true``, ``y_pred`` and ``labels`` mix strings and numbers
        (``open_label`` aside), as :mod:`sklearn.metrics` refuses; if
        ``labels`` is None and every label is ``open_label``, or ``labels``
        holds ``open_label`` only, or
        ``y_true`` holds no sample of a known class.

    Examples
    --------
    >>> from sklearn_openset.metrics import closed_set_accuracy_score
    >>> closed_set_accuracy_score([0, 1, 1, -1], [0, 1, 0, 1])
    0.6666666666666666
    """
    true_codes, pred_codes, n_known = _check_open_set_targets(
        y_true, y_pred, labels, open_label
    )
    known_rows = true_codes < n_known
    if not np.any(known_rows):
        raise ValueError("y_true holds no sample of a known class.")
    return float(accuracy_score(true_codes[known_rows], pred_codes[known_rows]))


@validate_params(
    {
        "y_true": ["array-like"],
        "known_scores": ["array-like"],
        "labels": ["array-like", None],
        "open_label": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def unknown_roc_auc_score(y_true, known_scores, *, labels=None, open_label=-1):
    """Area under the ROC curve of detecting unknown samples.

    Unknown samples are the positive class; their score is
    ``-known_scores`` (``known_scores`` is what ``score_samples`` returns:
    higher means more like the known classes).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels; unknown samples carry ``open_label`` (or, when ``labels``
        is given, any label not in ``labels``).
    known_scores : array-like of shape (n_samples,)
        Higher for samples that look known.
    labels : array-like of shape (n_classes,), default=None
        The known classes (``open_label`` among them is dropped).
    open_label : int or str, default=-1

    Returns
    -------
    auc : float

    Raises
    ------
    ValueError
        If ``y_true`` and ``known_scores`` are empty or of different lengths,
        ``known_scores`` is not finite, ``y_true`` and ``labels`` mix strings
        and numbers (``open_label`` aside), or ``y_true`` holds no known or no
        unknown sample.

    Examples
    --------
    >>> from sklearn_openset.metrics import unknown_roc_auc_score
    >>> unknown_roc_auc_score([0, 1, -1, -1], [0.9, 0.8, 0.1, 0.85])
    0.75
    """
    known_scores = column_or_1d(known_scores, warn=True).astype(float, copy=False)
    true_codes, n_known = _check_open_set_targets(
        y_true,
        known_scores,
        labels,
        open_label,
        pred_name="known_scores",
        pred_is_labels=False,
    )
    if not np.all(np.isfinite(known_scores)):
        raise ValueError("known_scores contains NaN or infinity.")
    is_unknown = true_codes == n_known
    unknown = f"open_label={open_label!r}" + (
        "" if labels is None else " or a label not in labels"
    )
    if is_unknown.all():
        raise ValueError(
            f"y_true holds no sample of a known class (every label is {unknown}); "
            "unknown_roc_auc_score needs both known and unknown samples in y_true."
        )
    if not is_unknown.any():
        raise ValueError(
            f"y_true holds no unknown sample (none is {unknown}); "
            "unknown_roc_auc_score needs both known and unknown samples in y_true."
        )
    return float(roc_auc_score(is_unknown, -known_scores))
