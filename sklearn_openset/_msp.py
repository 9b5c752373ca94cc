"""Maximum softmax probability (MSP): the baseline of open-set recognition."""

from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._metadata_requests import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from .base import OpenSetClassifierMixin
from .utils._docstring import Substitution
from .utils._validation import check_fitted_classes

__all__ = ["MSPClassifier"]


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._estimator(), attr)

    return check


@Substitution()
class MSPClassifier(OpenSetClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Open-set classifier that rejects inputs with a low top class probability.

    Wraps any scikit-learn classifier with ``predict_proba``: the input is
    given the arg-max class, or ``open_label`` when the maximum probability is
    below ``threshold``.

    Parameters
    ----------
    estimator : classifier, default=None
        A scikit-learn classifier with ``predict_proba``; cloned in ``fit``.
        A classifier already fitted and wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is: ``fit``
        does not refit it and only calibrates ``threshold_``; its
        ``classes_`` must be the classes of ``y``.
        ``None`` uses ``LogisticRegression(max_iter=1000)`` (more iterations
        than scikit-learn's default so that it converges on unscaled
        features).
    threshold : float in [0, 1], "auto" or None, default=0.5
        Inputs whose top probability (:meth:`score_samples`) is below it are
        rejected. 0.5 is the value of the open-set papers' MSP baseline.
        ``"auto"`` is the library's one calibration rule: it accepts 95 % of
        the correctly classified training samples (the threshold is the 5 %
        quantile of their top probabilities). ``None``: no threshold.
    {open_label}

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator`` (a ``FrozenEstimator`` is
        ``estimator`` itself).
    {classes_}
    {threshold_}
    n_features_in_ : int
        Number of features seen in ``fit`` (when ``X`` has a shape).

    See Also
    --------
    OpenMaxClassifier : recalibrates class scores with extreme value theory.

    Notes
    -----
    With :math:`p(y=k \\mid x)` the classifier's probabilities over the C known
    classes, the known-ness score is :math:`s(x) = \\max_k p(y=k \\mid x)` and

    .. math::

        \\hat y(x) = \\begin{cases} \\arg\\max_k p(y=k \\mid x) & s(x) \\ge t \\\\
        \\text{open\\_label} & s(x) < t \\end{cases}

    References
    ----------
    .. [1] D. Hendrycks and K. Gimpel, "A Baseline for Detecting Misclassified
       and Out-of-Distribution Examples in Neural Networks", ICLR 2017.

    Examples
    --------
    >>> from sklearn_openset import MSPClassifier
    >>> from sklearn_openset.datasets import make_open_set_blobs
    >>> X_train, X_test, y_train, y_test = make_open_set_blobs(random_state=0)
    >>> clf = MSPClassifier(threshold=0.9).fit(X_train, y_train)
    >>> clf.classes_
    array([0, 1, 2])
    >>> sorted(set(clf.predict(X_test).tolist()))
    [-1, 0, 1, 2]
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "threshold": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"}), None],
        "open_label": "no_validation",
    }

    def __init__(self, estimator=None, *, threshold=0.5, open_label=-1):
        self.estimator = estimator
        self.threshold = threshold
        self.open_label = open_label

    def _estimator(self):
        if self.estimator is None:
            return LogisticRegression(max_iter=1000)
        return self.estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the wrapped classifier on known-class samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, in whatever form ``estimator`` accepts.
        y : array-like of shape (n_samples,)
            Known-class labels; must not contain ``open_label``.
        **fit_params : dict
            Passed to ``estimator.fit``; with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``), only what
            ``estimator`` requested with ``set_fit_request``.

        Returns
        -------
        self : MSPClassifier
        """
        # The wrapped classifier validates X (it may be a text pipeline);
        # here only the feature count is recorded.
        validate_data(self, X, skip_check_array=True)
        y_encoded = self._fit_labels(y)
        if _routing_enabled():
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        # The wrapped classifier gets y as given (1-D after _fit_labels' check).
        self.estimator_ = clone(self._estimator()).fit(
            X, self.classes_[y_encoded], **fit_params
        )
        check_fitted_classes(self.estimator_, self.classes_, "MSPClassifier")
        self.classes_ = self.estimator_.classes_
        if isinstance(self.threshold, str):
            proba = self.estimator_.predict_proba(X)
            self._calibrate_threshold(
                proba.max(axis=1), np.argmax(proba, axis=1) == y_encoded
            )
        else:
            self._calibrate_threshold()
        return self

    def get_metadata_routing(self):
        """Metadata routing of this object: ``fit`` parameters go to ``estimator``.

        Returns
        -------
        routing : MetadataRouter
        """
        return MetadataRouter(owner=self).add(
            estimator=self._estimator(),
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def predict_proba(self, X):
        """Closed-set probabilities over ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        # The wrapped classifier validates X and its feature count.
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Per-class decision function of the wrapped classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def _open_set_parts(self, X):
        proba = self.predict_proba(X)
        return np.argmax(proba, axis=1), proba.max(axis=1), None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self._estimator().__sklearn_tags__()
        tags.input_tags = inner.input_tags
        return tags
