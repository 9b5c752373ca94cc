"""Open-set classification metrics, built on :mod:`sklearn.metrics`."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..utils._validation import _is_same_label, encode_open_set


def _known_labels(labels, y_true, y_pred, open_label):
    """Known labels: the given ones, else every label seen except open_label."""
    if labels is not None:
        known = np.asarray(labels)
        if known.ndim != 1 or known.shape[0] == 0:
            raise ValueError(
                "labels must be a non-empty 1-D array of the known class labels."
            )
        return known
    seen = np.concatenate(
        [np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)]
    )
    candidates = [v for v in dict.fromkeys(seen.tolist())]
    known = [v for v in candidates if not _is_same_label(v, open_label)]
    if not known:
        raise ValueError(
            "y_true and y_pred hold only open_label; pass labels= with the "
            "known class labels."
        )
    try:
        return np.asarray(sorted(known))
    except TypeError:
        return np.asarray(known, dtype=object)


def _encode_pair(y_true, y_pred, labels, open_label):
    y_true = column_or_1d(np.asarray(y_true, dtype=object), warn=True)
    y_pred = column_or_1d(np.asarray(y_pred, dtype=object), warn=True)
    check_consistent_length(y_true, y_pred)
    known = _known_labels(labels, y_true, y_pred, open_label)
    # Re-infer a proper dtype so that the fast path of the encoder applies.
    return (
        encode_open_set(_tidy(y_true), known),
        encode_open_set(_tidy(y_pred), known),
        known.shape[0],
    )


def _tidy(y):
    """Give an object array of homogeneous labels its natural dtype."""
    try:
        tidy = np.asarray(y.tolist())
    except (TypeError, ValueError):
        return y
    return tidy if tidy.dtype.kind in "biufUS" and tidy.shape == y.shape else y


_LABELS_PARAMS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "labels": ["array-like", None],
    "open_label": "no_validation",
}


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
        ``y_pred`` other than ``open_label``.
    open_label : int or str, default=-1
        Label of the open class.
    average : {"macro", "known", "open"}, default="macro"
        ``"macro"``: mean of the C + 1 per-class F1 (the open-intent
        papers' macro-F1, as in TEXTOIR/ADB and ANS). ``"known"``: mean over
        the C known classes (F1-known). ``"open"``: F1 of the open class
        (F1-open).

    Returns
    -------
    score : float

    Notes
    -----
    With :math:`F_k` the F1 of class :math:`k` and :math:`F_{open}` that of
    the open class, ``macro`` is
    :math:`\\frac{1}{C+1}\\left(\\sum_{k=1}^{C} F_k + F_{open}\\right)`.

    References
    ----------
    .. [1] H. Zhang, H. Xu, T.-E. Lin, "Deep Open Intent Classification with
       Adaptive Decision Boundary", AAAI 2021.
    .. [2] B. Bai et al., "Open Intent Classification via Adaptive Negative
       Sampling" (ANS), EMNLP 2022.

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
    true_codes, pred_codes, n_known = _encode_pair(y_true, y_pred, labels, open_label)
    per_class = f1_score(
        true_codes,
        pred_codes,
        labels=np.arange(n_known + 1),
        average=None,
        zero_division=0.0,
    )
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
        ``open_label``).
    open_label : int or str, default=-1

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_openset.metrics import open_set_accuracy_score
    >>> open_set_accuracy_score([0, 1, 7, 8], [0, -1, -1, -1], labels=[0, 1])
    0.75
    """
    true_codes, pred_codes, _ = _encode_pair(y_true, y_pred, labels, open_label)
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
        The known classes (default: every label of ``y_true`` other than
        ``open_label``).
    open_label : int or str, default=-1

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_openset.metrics import closed_set_accuracy_score
    >>> closed_set_accuracy_score([0, 1, 1, -1], [0, 1, 0, 1])
    0.6666666666666666
    """
    true_codes, pred_codes, n_known = _encode_pair(y_true, y_pred, labels, open_label)
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
        The known classes.
    open_label : int or str, default=-1

    Returns
    -------
    auc : float

    Examples
    --------
    >>> from sklearn_openset.metrics import unknown_roc_auc_score
    >>> unknown_roc_auc_score([0, 1, -1, -1], [0.9, 0.8, 0.1, 0.85])
    0.75
    """
    known_scores = column_or_1d(known_scores, warn=True).astype(float, copy=False)
    y_true = column_or_1d(np.asarray(y_true, dtype=object), warn=True)
    check_consistent_length(y_true, known_scores)
    if not np.all(np.isfinite(known_scores)):
        raise ValueError("known_scores contains NaN or infinity.")
    known = _known_labels(labels, y_true, y_true[:0], open_label)
    is_unknown = encode_open_set(_tidy(y_true), known) == known.shape[0]
    if is_unknown.all() or not is_unknown.any():
        raise ValueError(
            "unknown_roc_auc_score needs both known and unknown samples in y_true "
            f"(unknown ones labelled open_label={open_label!r})."
        )
    return float(roc_auc_score(is_unknown, -known_scores))
