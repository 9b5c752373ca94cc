"""A simulated annotation campaign, its results and their plot."""

import time
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils.validation import check_array, column_or_1d

from ._base import _label_mask
from ._baselines import _default_classifier, _set_random_state

__all__ = ["AnnotationCurveDisplay", "AnnotationSimulation", "simulate_annotation"]

_METRICS = {"recall": "Recall", "precision": "Precision", "accuracy": "Accuracy"}


@dataclass
class AnnotationSimulation:
    """What :func:`simulate_annotation` measured, one entry per cycle.

    Attributes
    ----------
    strategy : str
        The query strategy's class name.
    recall : ndarray of shape (n_cycles,)
        Share of the pool's known-class samples labeled after each cycle's
        query (Eq. 1 of the LfOSA paper, the initial labels included).
    precision : ndarray of shape (n_cycles,)
        Share of each cycle's query that was of a known class (Eq. 2).
    accuracy : ndarray of shape (n_cycles,)
        Accuracy on the known-class test samples of the classifier trained on
        the labels available when the cycle's query was made (cycle 0: the
        initial labels), as the reference code measures it; NaN without test
        data.
    n_labeled : ndarray of shape (n_cycles,)
        Known-class labels after each cycle's query.
    n_invalid : ndarray of shape (n_cycles,)
        Samples found unknown after each cycle's query.
    query_seconds : ndarray of shape (n_cycles,)
        Wall time of each ``query`` call (training the strategy's own
        model included).
    queried : list of ndarray
        The rows of the pool queried at each cycle.
    """

    strategy: str
    recall: np.ndarray
    precision: np.ndarray
    accuracy: np.ndarray
    n_labeled: np.ndarray
    n_invalid: np.ndarray
    query_seconds: np.ndarray
    queried: list = field(repr=False)

    def plot(self, metric="recall", *, ax=None, name=None):
        """Plot one metric per cycle (an :class:`AnnotationCurveDisplay`)."""
        return AnnotationCurveDisplay.from_simulations(
            {name or self.strategy: self}, metric=metric, ax=ax
        )


@validate_params(
    {
        "strategy": [HasMethods(["query"])],
        "X": ["array-like"],
        "y": ["array-like"],
        "known_classes": ["array-like"],
        "classifier": [HasMethods(["fit", "predict"]), None],
        "X_test": ["array-like", None],
        "y_test": ["array-like", None],
        "initial_fraction": [Interval(Real, 0.0, 1.0, closed="right")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_cycles": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def simulate_annotation(
    strategy,
    X,
    y,
    known_classes,
    *,
    classifier=None,
    X_test=None,
    y_test=None,
    initial_fraction=0.08,
    batch_size=None,
    n_cycles=10,
    random_state=None,
    verbose=0,
):
    """Run an open-set annotation campaign with an oracle, as the LfOSA paper does.

    The pool ``X`` mixes known classes with unknown ones; ``y`` holds every
    sample's true class (the oracle). A random ``initial_fraction`` of each
    known class starts labeled. Each cycle: the classifier is trained on the
    labeled samples and tested, the strategy queries ``batch_size``
    unlabeled samples, and the oracle labels the known-class ones and marks
    the others ``open_label`` (the invalid set the strategy may learn from).

    Parameters
    ----------
    strategy : query strategy
        Anything with ``query(X, y, batch_size=...)`` in scikit-activeml's
        convention: :class:`LfOSASampler`, the baselines of this module, or a
        scikit-activeml strategy that needs no other argument. It is cloned;
        its ``missing_label`` and ``open_label`` (default ``np.nan`` and -1)
        mark the pool's labels.
    X : array-like of shape (n_samples, ...)
        The pool.
    y : array-like of shape (n_samples,)
        The true class of every pool sample.
    known_classes : array-like
        The classes to annotate; every other class is unknown.
    classifier : estimator or None, default=None
        The user's classifier, cloned and fitted on the known labels at each
        cycle (``None``: a ``StandardScaler`` and ``LogisticRegression``
        pipeline). Only used with test data.
    X_test, y_test : array-like or None, default=None
        Test data; its known-class samples give the accuracy.
    initial_fraction : float, default=0.08
        Share of each known class labeled at the start (at least one sample
        per class); the paper's 8 %.
    batch_size : int or None, default=None
        Samples queried per cycle; ``None``: 3 % of the pool (the paper's
        1500 of 50,000).
    n_cycles : int, default=10
        Number of queries.
    random_state : int, RandomState or None, default=None
        Draws the initial labels and seeds the classifier.
    verbose : int, default=0
        Above 0, one line per cycle.

    Returns
    -------
    simulation : AnnotationSimulation
        Recall, precision, accuracy and more, per cycle.

    Notes
    -----
    With :math:`\\mathcal{Q}_t` the samples queried at cycle :math:`t`,
    :math:`\\mathcal{L}_0` the initial labels and :math:`n_{known}` the
    number of known-class samples in the pool, Eq. 1 and 2 of the paper:

    .. math::

        \\text{recall}_t = \\frac{|\\mathcal{L}_0| + \\sum_{s \\le t}
        |\\mathcal{Q}_s^{known}|}{n_{known}}, \\qquad
        \\text{precision}_t = \\frac{|\\mathcal{Q}_t^{known}|}{|\\mathcal{Q}_t|}.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_openset.active_learning import RandomSampler, simulate_annotation
    >>> X, y = make_blobs(n_samples=400, centers=5, random_state=0)
    >>> result = simulate_annotation(
    ...     RandomSampler(random_state=0), X, y, known_classes=[0, 1],
    ...     batch_size=20, n_cycles=3, random_state=0)
    >>> result.recall.shape
    (3,)
    """
    X = check_array(X, allow_nd=True, dtype="numeric", input_name="X")
    y = column_or_1d(np.asarray(y))
    if len(y) != len(X):
        raise ValueError(f"X and y have different lengths ({len(X)} and {len(y)}).")
    known_classes = np.unique(np.asarray(known_classes))
    is_known = np.isin(y, known_classes)
    if not is_known.any():
        raise ValueError(
            f"known_classes={known_classes.tolist()} holds no label of y: name the "
            "classes of the pool to annotate."
        )
    if batch_size is None:
        batch_size = max(1, round(0.03 * len(X)))
    rng = check_random_state(random_state)
    strategy = clone(strategy)
    missing_label = getattr(strategy, "missing_label", np.nan)
    open_label = getattr(strategy, "open_label", -1)
    if _label_mask(known_classes, open_label).any():
        raise ValueError(
            f"open_label={open_label!r} of the strategy is a known class; give the "
            "strategy an open_label that no class uses."
        )

    labels = np.empty(len(y), dtype=_pool_dtype(y, missing_label, open_label))
    labels[:] = missing_label
    for label in known_classes:
        rows = np.flatnonzero(y == label)
        n_initial = max(1, round(initial_fraction * len(rows)))
        chosen = rng.choice(rows, size=n_initial, replace=False)
        labels[chosen] = y[chosen]

    test = None
    if X_test is not None or y_test is not None:
        if X_test is None or y_test is None:
            raise ValueError("Give both X_test and y_test, or neither.")
        X_test = check_array(
            X_test, allow_nd=True, dtype="numeric", input_name="X_test"
        )
        y_test = column_or_1d(np.asarray(y_test))
        keep = np.isin(y_test, known_classes)
        test = (X_test[keep], y_test[keep])
        if classifier is None:
            classifier = _default_classifier()

    n_known = int(is_known.sum())
    history = {name: [] for name in ("recall", "precision", "accuracy", "n_labeled")}
    history.update(n_invalid=[], query_seconds=[], queried=[])
    for cycle in range(n_cycles):
        labeled = np.isin(labels, known_classes) & ~_label_mask(labels, missing_label)
        accuracy = np.nan
        if test is not None:
            model = clone(classifier)
            _set_random_state(model, rng)
            model.fit(X[labeled].reshape(labeled.sum(), -1), y[labeled])
            predicted = model.predict(test[0].reshape(len(test[0]), -1))
            accuracy = accuracy_score(test[1], predicted)
        n_left = int(_label_mask(labels, missing_label).sum())
        if n_left == 0:
            break
        start = time.perf_counter()
        chosen = np.asarray(
            strategy.query(X, labels, batch_size=min(batch_size, n_left))
        ).ravel()
        seconds = time.perf_counter() - start
        found_known = is_known[chosen]
        labels[chosen[found_known]] = y[chosen[found_known]]
        labels[chosen[~found_known]] = open_label
        n_labeled = int(np.isin(labels, known_classes).sum())
        history["recall"].append(n_labeled / n_known)
        history["precision"].append(found_known.mean())
        history["accuracy"].append(accuracy)
        history["n_labeled"].append(n_labeled)
        history["n_invalid"].append(int(_label_mask(labels, open_label).sum()))
        history["query_seconds"].append(seconds)
        history["queried"].append(chosen)
        if verbose > 0:
            print(
                f"cycle {cycle + 1}/{n_cycles}  precision {history['precision'][-1]:.3f}"
                f"  recall {history['recall'][-1]:.3f}  accuracy {accuracy:.3f}"
                f"  labeled {n_labeled}  query {seconds:.2f} s",
                flush=True,
            )
    queried = history.pop("queried")
    return AnnotationSimulation(
        strategy=type(strategy).__name__,
        queried=queried,
        **{name: np.asarray(values) for name, values in history.items()},
    )


def _pool_dtype(y, missing_label, open_label):
    """A dtype that holds the labels of ``y``, ``missing_label`` and ``open_label``."""
    markers = [m for m in (missing_label, open_label) if m is not None]
    if y.dtype.kind in "biuf" and all(
        isinstance(m, Real) and not isinstance(m, bool) for m in markers
    ):
        return np.float64
    return object


class AnnotationCurveDisplay:
    """Recall, precision or accuracy per annotation cycle, one curve per strategy.

    Build it with :meth:`from_simulations`; several runs (seeds) of a
    strategy give their mean with a band of one standard deviation.

    Parameters
    ----------
    curves : dict of str to ndarray of shape (n_runs, n_cycles)
        The metric of each run of each strategy.
    metric : {"recall", "precision", "accuracy"}
        What the curves hold (the axis label).

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the plot.
    figure_ : matplotlib Figure
        The figure holding them.
    lines_ : dict of str to matplotlib Line2D
        The mean curve of each strategy.

    See Also
    --------
    simulate_annotation : Makes the simulations.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_openset.active_learning import (
    ...     AnnotationCurveDisplay, RandomSampler, simulate_annotation)
    >>> X, y = make_blobs(n_samples=400, centers=5, random_state=0)
    >>> runs = [simulate_annotation(RandomSampler(random_state=s), X, y, [0, 1],
    ...                             batch_size=20, n_cycles=3, random_state=s)
    ...         for s in range(2)]
    >>> display = AnnotationCurveDisplay.from_simulations({"random": runs})
    >>> sorted(display.lines_)
    ['random']
    """

    def __init__(self, *, curves, metric="recall"):
        self.curves = curves
        self.metric = metric

    @classmethod
    def from_simulations(cls, simulations, *, metric="recall", ax=None):
        """The curves of :class:`AnnotationSimulation` results.

        Parameters
        ----------
        simulations : dict of str to AnnotationSimulation or list of them
            The runs of each strategy, under the name shown in the legend.
        metric : {"recall", "precision", "accuracy"}, default="recall"
            The metric to plot.
        ax : matplotlib Axes or None, default=None
            Where to plot; ``None`` makes a new figure.

        Returns
        -------
        display : AnnotationCurveDisplay
        """
        if metric not in _METRICS:
            raise ValueError(
                f"metric must be one of {sorted(_METRICS)}, got {metric!r}."
            )
        curves = {}
        for name, runs in simulations.items():
            runs = [runs] if isinstance(runs, AnnotationSimulation) else list(runs)
            lengths = {len(getattr(run, metric)) for run in runs}
            if len(lengths) != 1:
                raise ValueError(
                    f"The runs of {name!r} have different numbers of cycles "
                    f"{sorted(lengths)}; plot runs of the same length together."
                )
            curves[name] = np.vstack([getattr(run, metric) for run in runs])
        return cls(curves=curves, metric=metric).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to plot; ``None`` makes a new figure.

        Returns
        -------
        display : AnnotationCurveDisplay
            ``self``, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        self.lines_ = {}
        for name, values in self.curves.items():
            values = np.asarray(values, dtype=float)
            cycles = np.arange(1, values.shape[1] + 1)
            mean = values.mean(axis=0)
            (line,) = ax.plot(cycles, mean, marker="o", label=name)
            if len(values) > 1:
                spread = values.std(axis=0)
                ax.fill_between(
                    cycles,
                    mean - spread,
                    mean + spread,
                    alpha=0.2,
                    color=line.get_color(),
                )
            self.lines_[name] = line
        ax.set_xlabel("Query cycle")
        ax.set_ylabel(_METRICS[self.metric])
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
