"""Synthetic open-set data for tests and examples."""

from numbers import Integral, Real

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_random_state

from ._split import _OPEN_LABEL, _TEST_SIZE, make_open_set_split

__all__ = ["make_open_set_blobs"]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_known_classes": [Interval(Integral, 2, None, closed="left")],
        "n_unknown_classes": [Interval(Integral, 1, None, closed="left")],
        "cluster_std": [Interval(Real, 0, None, closed="left")],
        "center_box": [tuple],
        "test_size": _TEST_SIZE,
        "open_label": _OPEN_LABEL,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_open_set_blobs(
    n_samples=600,
    *,
    n_features=2,
    n_known_classes=3,
    n_unknown_classes=2,
    cluster_std=1.0,
    center_box=(-10, 10),
    test_size=0.3,
    open_label=-1,
    random_state=None,
):
    """Generate isotropic Gaussian blobs split into an open-set problem.

    ``n_known_classes + n_unknown_classes`` blobs are drawn with
    :func:`sklearn.datasets.make_blobs` (centres uniform in ``center_box``).
    Blobs ``0 .. n_known_classes - 1`` are the known classes; the others are
    unknown: absent from the training set and labelled ``open_label`` in the
    test set. The rows are split as in :func:`make_open_set_split`.

    Parameters
    ----------
    n_samples : int, default=600
        Total number of points, over all blobs (known and unknown), divided
        equally among them. At least two per blob are needed for the
        stratified split.

    n_features : int, default=2
        Number of features.

    n_known_classes : int, default=3
        Number of known classes, labelled ``0 .. n_known_classes - 1``.

    n_unknown_classes : int, default=2
        Number of unknown blobs, seen only in the test set.

    cluster_std : float, default=1.0
        Standard deviation of each blob.

    center_box : tuple of float (min, max), default=(-10, 10)
        Bounding box of the blob centres.

    test_size : float in (0, 1) or int, default=0.3
        Fraction (or number) of all points held out for testing.

    open_label : int or str, default=-1
        Test label of the unknown blobs. Must not be in
        ``0 .. n_known_classes + n_unknown_classes - 1``.

    random_state : int, RandomState instance or None, default=None
        Seeds the blobs and the split; an int gives the same data every call.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features)
        Training points, known classes only.

    X_test : ndarray of shape (n_test, n_features)
        Test points of the known and unknown blobs.

    y_train : ndarray of shape (n_train,)
        Training labels in ``0 .. n_known_classes - 1``.

    y_test : ndarray of shape (n_test,)
        Test labels: a known class, or ``open_label``.

    See Also
    --------
    make_open_set_split : The split applied to the blobs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.datasets import make_open_set_blobs
    >>> X_train, X_test, y_train, y_test = make_open_set_blobs(
    ...     500, n_known_classes=3, n_unknown_classes=2, random_state=0)
    >>> X_train.shape, X_test.shape
    ((210, 2), (150, 2))
    >>> np.unique(y_train)
    array([0, 1, 2])
    >>> np.unique(y_test, return_counts=True)
    (array([-1,  0,  1,  2]), array([60, 30, 30, 30]))
    """
    rng = check_random_state(random_state)
    n_blobs = n_known_classes + n_unknown_classes
    X, y = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_blobs,
        cluster_std=cluster_std,
        center_box=center_box,
        random_state=rng,
    )
    return make_open_set_split(
        X,
        y,
        known_classes=np.arange(n_known_classes),
        test_size=test_size,
        open_label=open_label,
        random_state=rng,
    )
