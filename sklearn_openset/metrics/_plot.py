"""Displays of open-set results, in scikit-learn's Display style."""

import numpy as np
from sklearn.metrics import RocCurveDisplay

from ._classification import _check_open_set_targets, _per_class_f1
from ._scorer import _final_step

__all__ = ["OpenSetF1Display", "ScoreDistributionDisplay", "UnknownRocCurveDisplay"]


def _estimator_name(estimator):
    return type(_final_step(estimator)).__name__


def _open_label_of(estimator):
    return getattr(_final_step(estimator), "open_label", -1)


def _is_unknown(y_true, known_scores, labels, open_label):
    """Boolean mask of the unknown samples of ``y_true`` (validated)."""
    true_codes, n_known = _check_open_set_targets(
        y_true,
        known_scores,
        labels,
        open_label,
        pred_name="known_scores",
        pred_is_labels=False,
    )
    return true_codes == n_known


def _new_axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


class ScoreDistributionDisplay:
    """Histograms of ``score_samples`` for known and unknown samples.

    The picture behind every open-set threshold: how the known-ness scores
    of known-class samples and of unknown ones overlap, and where the
    threshold cuts. Build it with :meth:`from_estimator` or
    :meth:`from_predictions`.

    Parameters
    ----------
    known_scores : ndarray
        Scores of the samples of known classes.
    unknown_scores : ndarray
        Scores of the unknown samples.
    threshold : float or None, default=None
        Drawn as a vertical line when given.
    name : str or None, default=None
        Shown in the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the plot.
    figure_ : matplotlib Figure
        The figure holding them.
    threshold_line_ : matplotlib Line2D or None
        The threshold's line.

    See Also
    --------
    UnknownRocCurveDisplay : The ROC of the same scores.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_openset import MSPClassifier
    >>> from sklearn_openset.datasets import load_digits_open_set
    >>> from sklearn_openset.metrics import ScoreDistributionDisplay
    >>> X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
    >>> clf = MSPClassifier().fit(X_train, y_train)
    >>> display = ScoreDistributionDisplay.from_estimator(clf, X_test, y_test)
    >>> bool(display.threshold_line_.get_xdata()[0] == clf.threshold_)
    True
    """

    def __init__(self, *, known_scores, unknown_scores, threshold=None, name=None):
        self.known_scores = known_scores
        self.unknown_scores = unknown_scores
        self.threshold = threshold
        self.name = name

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, bins=30, name=None):
        """Scores of a fitted open-set classifier on ``(X, y)``.

        Labels of ``y`` that are ``open_label`` or not in
        ``estimator.classes_`` are the unknown samples; the threshold is the
        estimator's ``threshold_``.

        Parameters
        ----------
        estimator : fitted open-set classifier (or pipeline ending in one)
            It must have ``score_samples`` and ``classes_``.
        X : array-like
            Test samples.
        y : array-like of shape (n_samples,)
            Their labels.
        ax : matplotlib Axes or None, default=None
            Where to plot; ``None`` makes a new figure.
        bins : int, default=30
            Histogram bins (shared by both groups).
        name : str or None, default=None
            Title; by default the estimator's class name.

        Returns
        -------
        display : ScoreDistributionDisplay
        """
        threshold = getattr(_final_step(estimator), "threshold_", None)
        return cls.from_predictions(
            y,
            estimator.score_samples(X),
            labels=estimator.classes_,
            open_label=_open_label_of(estimator),
            threshold=threshold,
            ax=ax,
            bins=bins,
            name=name or _estimator_name(estimator),
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        known_scores,
        *,
        labels=None,
        open_label=-1,
        threshold=None,
        ax=None,
        bins=30,
        name=None,
    ):
        """Scores given directly.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels; unknown samples carry ``open_label`` (or, with
            ``labels``, any label not in it).
        known_scores : array-like of shape (n_samples,)
            Higher for samples that look known (what ``score_samples``
            returns).
        labels : array-like or None, default=None
            The known classes.
        open_label : int or str, default=-1
            Label of the unknown samples.
        threshold : float or None, default=None
            Drawn as a vertical line.
        ax : matplotlib Axes or None, default=None
            Where to plot.
        bins : int, default=30
            Histogram bins.
        name : str or None, default=None
            Title.

        Returns
        -------
        display : ScoreDistributionDisplay
        """
        scores = np.asarray(known_scores, dtype=float)
        unknown = _is_unknown(y_true, scores, labels, open_label)
        display = cls(
            known_scores=scores[~unknown],
            unknown_scores=scores[unknown],
            threshold=threshold,
            name=name,
        )
        return display.plot(ax=ax, bins=bins)

    def plot(self, ax=None, *, bins=30):
        """Draw the histograms.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to plot.
        bins : int, default=30
            Histogram bins.

        Returns
        -------
        display : ScoreDistributionDisplay
        """
        ax = _new_axes(ax)
        both = np.concatenate([self.known_scores, self.unknown_scores])
        edges = np.histogram_bin_edges(both[np.isfinite(both)], bins=bins)
        for scores, label in (
            (self.known_scores, "known"),
            (self.unknown_scores, "unknown"),
        ):
            if len(scores):
                ax.hist(scores, bins=edges, alpha=0.6, label=f"{label} ({len(scores)})")
        self.threshold_line_ = None
        if self.threshold is not None and np.isfinite(self.threshold):
            self.threshold_line_ = ax.axvline(
                self.threshold, color="black", linestyle="--", label="threshold"
            )
        ax.set_xlabel("score_samples (higher: more like the known classes)")
        ax.set_ylabel("samples")
        if self.name:
            ax.set_title(self.name)
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self


class UnknownRocCurveDisplay(RocCurveDisplay):
    """ROC curve of detecting the unknown samples, on scikit-learn's display.

    :class:`sklearn.metrics.RocCurveDisplay` with the open-set convention of
    :func:`~sklearn_openset.metrics.unknown_roc_auc_score`: the unknown
    samples are the positive class and their score is ``-score_samples``.
    Its area is that AUROC.

    Parameters
    ----------
    fpr, tpr, roc_auc, name, pos_label
        As for :class:`sklearn.metrics.RocCurveDisplay`; build it with
        :meth:`from_estimator` or :meth:`from_predictions`.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The ROC curve.
    ax_ : matplotlib Axes
        The axes of the plot.
    figure_ : matplotlib Figure
        The figure holding them.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_openset import MSPClassifier
    >>> from sklearn_openset.datasets import load_digits_open_set
    >>> from sklearn_openset.metrics import UnknownRocCurveDisplay, unknown_roc_auc_scorer
    >>> X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
    >>> clf = MSPClassifier().fit(X_train, y_train)
    >>> display = UnknownRocCurveDisplay.from_estimator(clf, X_test, y_test)
    >>> bool(abs(display.roc_auc - unknown_roc_auc_scorer(clf, X_test, y_test)) < 1e-12)
    True
    """

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, name=None, **kwargs):
        """ROC of a fitted open-set classifier's ``score_samples`` on ``(X, y)``.

        Parameters
        ----------
        estimator : fitted open-set classifier (or pipeline ending in one)
            Labels of ``y`` that are ``open_label`` or not in ``classes_``
            are the unknown samples.
        X : array-like
            Test samples.
        y : array-like of shape (n_samples,)
            Their labels.
        ax : matplotlib Axes or None, default=None
            Where to plot.
        name : str or None, default=None
            Legend name; by default the estimator's class name.
        **kwargs
            Passed to :meth:`sklearn.metrics.RocCurveDisplay.from_predictions`
            (e.g. ``plot_chance_level=True``).

        Returns
        -------
        display : UnknownRocCurveDisplay
        """
        return cls.from_predictions(
            y,
            estimator.score_samples(X),
            labels=estimator.classes_,
            open_label=_open_label_of(estimator),
            ax=ax,
            name=name or _estimator_name(estimator),
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        known_scores,
        *,
        labels=None,
        open_label=-1,
        ax=None,
        name=None,
        **kwargs,
    ):
        """ROC of given known-ness scores.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels; unknown samples carry ``open_label`` (or, with
            ``labels``, any label not in it).
        known_scores : array-like of shape (n_samples,)
            What ``score_samples`` returns (higher: more known).
        labels : array-like or None, default=None
            The known classes.
        open_label : int or str, default=-1
            Label of the unknown samples.
        ax : matplotlib Axes or None, default=None
            Where to plot.
        name : str or None, default=None
            Legend name.
        **kwargs
            Passed to :meth:`sklearn.metrics.RocCurveDisplay.from_predictions`.

        Returns
        -------
        display : UnknownRocCurveDisplay
        """
        scores = np.asarray(known_scores, dtype=float)
        unknown = _is_unknown(y_true, scores, labels, open_label)
        return super().from_predictions(
            unknown, -scores, pos_label=True, ax=ax, name=name, **kwargs
        )


class OpenSetF1Display:
    """Per-class F1 bars, the open class included.

    The macro-F1 of the open-set papers is the mean of these C + 1 bars;
    the plot shows which classes the rejection costs and how well the open
    class itself is found. Build it with :meth:`from_estimator` or
    :meth:`from_predictions`.

    Parameters
    ----------
    labels : ndarray of shape (n_classes,)
        The known classes.
    f1 : ndarray of shape (n_classes + 1,)
        F1 of each known class, then of the open class.
    open_label : int or str, default=-1
        Name of the open class's bar.

    Attributes
    ----------
    bars_ : matplotlib BarContainer
        The bars.
    ax_ : matplotlib Axes
        The axes of the plot.
    figure_ : matplotlib Figure
        The figure holding them.

    See Also
    --------
    open_set_f1_score : The mean of the bars.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_openset.metrics import OpenSetF1Display
    >>> display = OpenSetF1Display.from_predictions(
    ...     [0, 0, 1, 1, -1, -1], [0, 1, 1, 1, -1, 0])
    >>> [round(float(v), 3) for v in display.f1]  # classes 0, 1, then open
    [0.5, 0.8, 0.667]
    """

    def __init__(self, *, labels, f1, open_label=-1):
        self.labels = labels
        self.f1 = f1
        self.open_label = open_label

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None):
        """Per-class F1 of a fitted open-set classifier's predictions on ``(X, y)``.

        Parameters
        ----------
        estimator : fitted open-set classifier (or pipeline ending in one)
            Labels of ``y`` not in ``classes_`` count as open.
        X : array-like
            Test samples.
        y : array-like of shape (n_samples,)
            Their labels.
        ax : matplotlib Axes or None, default=None
            Where to plot.

        Returns
        -------
        display : OpenSetF1Display
        """
        return cls.from_predictions(
            y,
            estimator.predict(X),
            labels=estimator.classes_,
            open_label=_open_label_of(estimator),
            ax=ax,
        )

    @classmethod
    def from_predictions(cls, y_true, y_pred, *, labels=None, open_label=-1, ax=None):
        """Per-class F1 of given predictions.

        Parameters
        ----------
        y_true, y_pred : array-like of shape (n_samples,)
            True and predicted labels; ``open_label`` (or a label not in
            ``labels``) is the open class.
        labels : array-like or None, default=None
            The known classes (by default those seen other than
            ``open_label``).
        open_label : int or str, default=-1
            Label of the open class.
        ax : matplotlib Axes or None, default=None
            Where to plot.

        Returns
        -------
        display : OpenSetF1Display
        """
        known, per_class = _per_class_f1(y_true, y_pred, labels, open_label)
        return cls(labels=known, f1=per_class, open_label=open_label).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to plot.

        Returns
        -------
        display : OpenSetF1Display
        """
        ax = _new_axes(ax)
        names = [str(label) for label in self.labels] + [f"open ({self.open_label})"]
        colors = ["C0"] * len(self.labels) + ["C3"]
        self.bars_ = ax.bar(np.arange(len(names)), self.f1, color=colors)
        ax.set_xticks(
            np.arange(len(names)), names, rotation=90 if len(names) > 12 else 0
        )
        ax.axhline(np.mean(self.f1), color="black", linestyle="--", label="macro-F1")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("F1")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
