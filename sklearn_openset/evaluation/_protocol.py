"""The evaluation protocol: fit on known classes, test on known + unknown.

The ``sklearn-openset evaluate`` command's tables of estimators and datasets
live here. The estimator classes are imported when the table is first used:
the methods know nothing of the protocol.
"""

import inspect
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import (
    CAC_MNIST_KNOWN_CLASSES,
    fetch_mnist,
    load_digits_open_set,
    make_open_set_blobs,
    relabel_open_set,
)
from ..metrics import (
    closed_set_accuracy_score,
    open_set_accuracy_score,
    open_set_f1_score,
    unknown_roc_auc_score,
)

METRICS = (
    "accuracy",
    "macro_f1",
    "f1_known",
    "f1_open",
    "auroc",
    "closed_accuracy",
    "fit_time",
    "predict_time",
)

_HEADERS = {
    "accuracy": "Accuracy",
    "macro_f1": "Macro-F1",
    "f1_known": "F1-known",
    "f1_open": "F1-open",
    "auroc": "AUROC",
    "closed_accuracy": "Closed acc",
    "fit_time": "Fit s, median",
    "predict_time": "Predict s, median",
}

#: The metrics summarized by their median over seeds, not their mean: the
#: first fit of a process carries a one-time warm-up (imports, torch's first
#: kernels) that the mean would spread over every estimator's row.
TIMES = ("fit_time", "predict_time")

#: What the table and the JSON output say of their statistics.
STATISTICS = {
    "scores": "mean ± std over seeds",
    "times": (
        "median (min-max) over seeds; the median leaves out the one-time "
        "warm-up of a process's first fit"
    ),
}

#: Name of the environment variable that points to the cache folder.
CACHE_ENV = "SKLEARN_OPENSET_CACHE"


@dataclass(frozen=True)
class _Entry:
    factory: Callable
    description: str
    #: Datasets only: the share of known classes of the protocol (what the
    #: loader does with ``known_ratio=None``), shown by the command.
    known_ratio: float | None = None


class _Table(MutableMapping):
    """``{name: entry}``, filled with ``defaults()`` (name -> (factory,
    description[, known_ratio])) the first time it is read or written."""

    def __init__(self, defaults):
        self._defaults = defaults
        self._entries = None

    def _filled(self):
        if self._entries is None:
            self._entries = {
                name: _Entry(*values) for name, values in self._defaults().items()
            }
        return self._entries

    def __getitem__(self, name):
        return self._filled()[name]

    def __setitem__(self, name, entry):
        self._filled()[name] = entry

    def __delitem__(self, name):
        del self._filled()[name]

    def __iter__(self):
        return iter(self._filled())

    def __len__(self):
        return len(self._filled())

    def __repr__(self):
        return f"{type(self).__name__}({list(self)})"


def _default_estimators():
    """The estimators of ``sklearn-openset evaluate``: name -> (factory, description).

    ``factory(random_state)`` returns an unfitted estimator.
    """
    from sklearn.linear_model import LogisticRegression

    from .. import (
        ANSOneVsRestClassifier,
        CACClassifier,
        CROSRClassifier,
        MSPClassifier,
        OpenMaxClassifier,
    )
    from ..model_selection import TunedOpenSetThresholdCV

    return {
        "ans": (
            lambda random_state: ANSOneVsRestClassifier(random_state=random_state),
            "ANS: one-vs-rest heads with synthesized negatives (feature vectors)",
        ),
        "cac": (
            lambda random_state: CACClassifier(random_state=random_state),
            "Class Anchor Clustering over the default MLP (alpha 10, lambda 0.1)",
        ),
        "crosr": (
            lambda random_state: CROSRClassifier(random_state=random_state),
            (
                "CROSR: vector DHRNet (256, 128; latent 32 per stage), OpenMax on "
                "[logits, latent] (tail 20, euclidean, threshold auto)"
            ),
        ),
        "msp": (
            lambda random_state: MSPClassifier(),
            "maximum softmax probability over LogisticRegression, threshold 0.5",
        ),
        "msp-tuned": (
            lambda random_state: TunedOpenSetThresholdCV(
                MSPClassifier(), random_state=random_state
            ),
            (
                "MSP over LogisticRegression, threshold chosen on pseudo-open "
                "splits of the training classes (TunedOpenSetThresholdCV)"
            ),
        ),
        "openmax": (
            lambda random_state: OpenMaxClassifier(random_state=random_state),
            "OpenMax over the default MLP (tail 20, alpha 10, eucos)",
        ),
        "openmax-lr": (
            lambda random_state: OpenMaxClassifier(LogisticRegression(max_iter=1000)),
            "OpenMax over LogisticRegression's decision function",
        ),
    }


def _default_datasets():
    """The datasets of ``sklearn-openset evaluate``.

    name -> (loader, description, the protocol's known-class ratio).
    """
    return {
        "digits": (
            _load_digits,
            "scikit-learn digits (embedded), 6 of 10 digits known, 70/30 split",
            0.6,
        ),
        "mnist": (
            _load_mnist,
            (
                "MNIST (the data home's 5k subset, else the official 60k, "
                "downloaded) / 10k test, CAC paper's 6/4 known lists"
            ),
            0.6,
        ),
        "blobs": (_load_blobs, "synthetic Gaussian blobs, 3 known / 2 unknown", 0.6),
        "clinc150": (
            _load_clinc150,
            (
                "CLINC150 (TEXTOIR protocol, 50% known by default) as "
                "all-MiniLM-L6-v2 embeddings, cached in $SKLEARN_OPENSET_CACHE"
            ),
            0.5,
        ),
    }


ESTIMATORS = _Table(_default_estimators)
DATASETS = _Table(_default_datasets)


def register_estimator(name, factory, *, description=""):
    """Make an estimator available to ``sklearn-openset evaluate``.

    The built-in estimators are in the table already; this adds one (or
    replaces the one of that name) for the rest of the session.

    Parameters
    ----------
    name : str
        Name used on the command line (``--estimators NAME``).
    factory : callable
        ``factory(random_state)`` returns an unfitted estimator.
    description : str, default=""
        One line shown by ``sklearn-openset evaluate --list``.
    """
    ESTIMATORS[name] = _Entry(factory, description)


def register_dataset(name, loader, *, description="", known_ratio=None):
    """Make a dataset available to ``sklearn-openset evaluate``.

    Parameters
    ----------
    name : str
        Name used on the command line (``--dataset NAME``).
    loader : callable
        ``loader(seed, *, known_ratio, data_home)`` returns
        ``X_train, X_test, y_train, y_test`` where ``y_test`` marks unknown
        samples with ``-1``; ``known_ratio=None`` means the dataset's default.
        A loader that also takes a ``progress`` keyword gets
        :func:`run_protocol`'s ``progress`` (to show its long steps on
        standard error).
    description : str, default=""
        One line shown by ``sklearn-openset evaluate --list`` and ``--help``.
    known_ratio : float, default=None
        The share of known classes the loader uses with ``known_ratio=None``,
        printed by the command; ``None`` when it has no single value.
    """
    DATASETS[name] = _Entry(loader, description, known_ratio)


def get_cache_home(cache_home=None):
    """Return the folder where the protocol caches what it computes once.

    In order of precedence: ``cache_home``, the environment variable
    ``SKLEARN_OPENSET_CACHE``, ``~/.cache/sklearn_openset``. The folder is
    created when it does not exist. The ``clinc150`` dataset keeps its
    sentence embeddings there (a ``joblib.Memory``).

    Parameters
    ----------
    cache_home : str or path-like, default=None
        Explicit cache folder. ``~`` is expanded.

    Returns
    -------
    cache_home : pathlib.Path

    Examples
    --------
    >>> from sklearn_openset.evaluation import get_cache_home
    >>> get_cache_home("/tmp/openset-cache").name
    'openset-cache'
    """
    if cache_home is None:
        cache_home = os.environ.get(CACHE_ENV) or "~/.cache/sklearn_openset"
    path = Path(cache_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_class_split_trial(
    trial, dataset="mnist", *, images=False, dtype=np.float64, data_home=None
):
    """One trial of the CAC paper's class-split protocol: 6 known / 4 unknown digits.

    The known digits are ``CAC_MNIST_KNOWN_CLASSES[trial]``. ``"mnist"``:
    the known digits of the training images of
    :func:`~sklearn_openset.datasets.fetch_mnist` (the 5k subset when the data
    home holds it, else the official 60k images, downloaded when missing),
    the whole 10k test set.
    ``"digits"``: scikit-learn's digits split 70/30, stratified, with
    ``random_state=trial``. Pixels are scaled to [0, 1].

    Parameters
    ----------
    trial : int in 0..4
        Index into :data:`~sklearn_openset.datasets.CAC_MNIST_KNOWN_CLASSES`.
    dataset : {"mnist", "digits"}, default="mnist"
    images : bool, default=False
        Images of shape ``(n, 1, side, side)`` (side 28 for MNIST, 8 for
        digits) instead of flat vectors.
    dtype : numpy dtype, default=np.float64
        Of the pixels (``float32`` for torch modules).
    data_home : str or path-like, default=None
        Where MNIST lies or is downloaded to; see
        :func:`~sklearn_openset.datasets.get_data_home`.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarrays
        ``y_test`` holds ``-1`` for the unknown digits.
    """
    known = CAC_MNIST_KNOWN_CLASSES[trial]
    if dataset == "mnist":
        mnist = fetch_mnist(data_home)
        rows = np.isin(mnist.y_train, known)
        X_train = mnist.X_train[rows].astype(dtype) / 255.0
        X_test = mnist.X_test.astype(dtype) / 255.0
        y_train, y_test = mnist.y_train[rows], relabel_open_set(mnist.y_test, known)
        side = 28
    elif dataset == "digits":
        X_train, X_test, y_train, y_test = load_digits_open_set(
            known_classes=known, random_state=trial
        )
        X_train, X_test = X_train.astype(dtype), X_test.astype(dtype)
        side = 8
    else:
        raise ValueError(f"dataset must be 'mnist' or 'digits', got {dataset!r}.")
    shape = (1, side, side) if images else (side * side,)
    return X_train.reshape(-1, *shape), X_test.reshape(-1, *shape), y_train, y_test


def _load_digits(seed, *, known_ratio=None, data_home=None):
    return load_digits_open_set(known_ratio=known_ratio or 0.6, random_state=seed)


def _load_mnist(seed, *, known_ratio=None, data_home=None):
    if known_ratio is not None:
        raise ValueError(
            "The mnist protocol uses the CAC paper's five fixed known-class lists "
            "(trial = seed % 5); known_ratio does not apply."
        )
    return load_class_split_trial(
        seed % len(CAC_MNIST_KNOWN_CLASSES), "mnist", data_home=data_home
    )


def _load_blobs(seed, *, known_ratio=None, data_home=None):
    n_known = 3 if known_ratio is None else max(2, round(5 * known_ratio))
    return make_open_set_blobs(
        n_samples=1000,
        n_features=8,
        n_known_classes=n_known,
        n_unknown_classes=5 - n_known,
        random_state=seed,
    )


def _frozen_embeddings(texts, model_path, verbose=0):
    """``texts`` embedded by the encoder at ``model_path``, not fine-tuned.

    ``verbose``: a progress bar over the texts on standard error.
    """
    from ..feature_extraction import TextEmbedder

    embedder = TextEmbedder(model_path, verbose=verbose)
    return embedder.fit(texts[:1]).transform(texts)


def _load_clinc150(seed, *, known_ratio=None, data_home=None, progress=False):
    # Sentence embeddings of CLINC150 (TEXTOIR protocol) by the default
    # TextEmbedder, computed once and kept in the cache folder.
    import joblib

    from .. import datasets, feature_extraction

    split = datasets.fetch_clinc150(
        data_home, known_ratio=known_ratio or 0.5, random_state=seed
    )
    raw = datasets.fetch_clinc150(data_home)
    memory = joblib.Memory(get_cache_home(), verbose=0)
    embed = memory.cache(_frozen_embeddings, ignore=["verbose"])
    model_path = feature_extraction.default_model_path()
    # A progress bar while embedding (minutes on a CPU), none when cached.
    X_train = embed(list(raw.text_train), model_path, verbose=int(progress))
    X_test = embed(list(raw.text_test), model_path, verbose=int(progress))
    known = np.isin(raw.y_train, split.known_classes)
    return X_train[known], X_test, raw.y_train[known], split.y_test


def evaluate_estimator(estimator, X_train, y_train, X_test, y_test, *, open_label=-1):
    """Fit ``estimator`` on known classes and score it on the open test set.

    Parameters
    ----------
    estimator : open-set classifier
        Unfitted; it is fitted in place.
    X_train, y_train : training data of the known classes.
    X_test, y_test : test data; unknown samples carry ``open_label`` or any
        label not in ``y_train``.
    open_label : int or str, default=-1

    Returns
    -------
    result : dict
        The metrics of the papers (``accuracy``, ``macro_f1``, ``f1_known``,
        ``f1_open``, ``auroc``, ``closed_accuracy``) and ``fit_time``,
        ``predict_time`` in seconds (predict, score_samples and
        predict_proba together).
    """
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    fit_time = time.perf_counter() - start

    start = time.perf_counter()
    y_pred = estimator.predict(X_test)
    known_scores = estimator.score_samples(X_test)
    closed_pred = estimator.classes_[np.argmax(estimator.predict_proba(X_test), axis=1)]
    predict_time = time.perf_counter() - start

    return {
        **evaluate_predictions(
            y_test,
            y_pred,
            known_scores,
            closed_pred,
            labels=estimator.classes_,
            open_label=open_label,
        ),
        "fit_time": fit_time,
        "predict_time": predict_time,
    }


def evaluate_predictions(
    y_true, y_pred, known_scores, closed_pred, *, labels, open_label=-1
):
    """The metrics of the papers from the outputs of a fitted estimator.

    What :func:`evaluate_estimator` computes once it has the predictions,
    for those who get them another way (e.g. from one forward pass).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Test labels; unknown samples carry ``open_label`` or any label not in
        ``labels``.
    y_pred : array-like of shape (n_samples,)
        Open-set predictions (``predict``).
    known_scores : array-like of shape (n_samples,)
        ``score_samples``: higher means more like the known classes.
    closed_pred : array-like of shape (n_samples,)
        Closed-set predictions (arg-max of ``predict_proba`` over ``labels``).
    labels : array-like
        The known classes (``classes_``).
    open_label : int or str, default=-1

    Returns
    -------
    result : dict
        ``accuracy``, ``macro_f1``, ``f1_known``, ``f1_open``, ``auroc`` and
        ``closed_accuracy``.
    """
    kwargs = {"labels": labels, "open_label": open_label}
    return {
        "accuracy": open_set_accuracy_score(y_true, y_pred, **kwargs),
        "macro_f1": open_set_f1_score(y_true, y_pred, **kwargs),
        "f1_known": open_set_f1_score(y_true, y_pred, average="known", **kwargs),
        "f1_open": open_set_f1_score(y_true, y_pred, average="open", **kwargs),
        "auroc": unknown_roc_auc_score(y_true, known_scores, **kwargs),
        "closed_accuracy": closed_set_accuracy_score(y_true, closed_pred, **kwargs),
    }


def run_protocol(
    estimators=None,
    dataset="digits",
    seeds=(0, 1, 2),
    *,
    known_ratio=None,
    data_home=None,
    progress=True,
):
    """Evaluate registered estimators on a registered dataset over seeds.

    Parameters
    ----------
    estimators : list of str, default=None
        Registered estimator names; ``None`` runs all of them, except those
        whose optional dependencies are not installed (an estimator raising
        ``ImportError`` when made or fitted, e.g. the torch estimators in a
        core install without the ``deep`` extra): they are skipped with a
        note on standard error. A named estimator that cannot be imported
        raises its ``ImportError``.
    dataset : str, default="digits"
        A registered dataset name.
    seeds : iterable of int, default=(0, 1, 2)
        One split (and one estimator ``random_state``) per seed.
    known_ratio : float, default=None
        Share of the classes that are known; ``None`` for the dataset's
        protocol default.
    data_home : str or path, default=None
        Where the benchmark data lies (see
        :func:`sklearn_openset.datasets.get_data_home`); the ``mnist`` and
        ``clinc150`` datasets download their files there when they are
        missing (``fetch_mnist``, ``fetch_clinc150``).
    progress : bool, default=True
        Show progress on standard error: a line when a dataset split is
        loaded, the long steps of the loader (the ``clinc150`` dataset's
        progress bar while it embeds the sentences) and one line per run,
        begun before the fit and ended with its results.

    Returns
    -------
    rows : list of dict
        One row per estimator and seed: ``estimator``, ``seed``,
        ``n_known_classes`` and the metrics of :func:`evaluate_estimator`.

    Raises
    ------
    ImportError
        If a named estimator needs a package that is not installed, or if
        no estimator of the table could run.
    """
    names = list(ESTIMATORS) if estimators is None else list(estimators)
    unknown = [name for name in names if name not in ESTIMATORS]
    if unknown:
        raise ValueError(
            f"Unknown estimator(s) {unknown}; choose among {sorted(ESTIMATORS)}."
        )
    if dataset not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; choose among {sorted(DATASETS)}."
        )
    seeds = list(seeds)
    rows = []
    total = len(names) * len(seeds)

    def say(text, end="\n"):
        if progress:
            print(text, end=end, file=sys.stderr, flush=True)

    loader = DATASETS[dataset].factory
    options = {"known_ratio": known_ratio, "data_home": data_home}
    if _takes_keyword(loader, "progress"):
        options["progress"] = progress
    skipped = {}
    for i, seed in enumerate(seeds):
        say(f"Loading {dataset}, seed {seed}")
        X_train, X_test, y_train, y_test = loader(seed, **options)
        n_known = len(np.unique(y_train))
        for name in names:
            if name in skipped:
                continue
            say(f"[{len(rows) + 1}/{total}] {name} on {dataset}, seed {seed}: ", end="")
            try:
                estimator = ESTIMATORS[name].factory(seed)
                result = evaluate_estimator(estimator, X_train, y_train, X_test, y_test)
            except ImportError as error:
                if estimators is not None:
                    raise
                # An optional dependency missing (a core install): skip it.
                skipped[name] = error
                total -= len(seeds) - i
                say("skipped")
                print(f"Skipping {name}: {error}", file=sys.stderr, flush=True)
                continue
            rows.append(
                {"estimator": name, "seed": seed, "n_known_classes": n_known, **result}
            )
            say(
                f"macro-F1 {result['macro_f1']:.4f}, AUROC {result['auroc']:.4f} "
                f"({result['fit_time']:.2f} s fit)"
            )
    if not rows and skipped:
        raise ImportError(
            "No estimator could run: " + "; ".join(map(str, skipped.values()))
        )
    return rows


def _takes_keyword(func, name):
    """Whether ``func`` accepts the keyword argument ``name``."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # no signature (some builtins)
        return False
    return any(
        (p.name == name and p.kind != p.POSITIONAL_ONLY) or p.kind == p.VAR_KEYWORD
        for p in parameters
    )


def summarize(rows, *, by="estimator", metrics=METRICS):
    """Mean and standard deviation of every metric, per estimator.

    Parameters
    ----------
    rows : list of dict
        As :func:`run_protocol` returns them.
    by : str or tuple of str, default="estimator"
        The key of the rows to group by; a tuple of keys groups by their
        values together (the summary's keys are then tuples).
    metrics : iterable of str, default=METRICS
        The keys to average; every row must have them.

    Returns
    -------
    summary : dict
        ``{estimator: {metric: (mean, std)}}`` in the order of ``rows``.
    """

    def group(row):
        return row[by] if isinstance(by, str) else tuple(row[key] for key in by)

    summary = {}
    for name in dict.fromkeys(group(row) for row in rows):
        mine = [row for row in rows if group(row) == name]
        summary[name] = {
            metric: (
                float(np.mean([row[metric] for row in mine])),
                float(np.std([row[metric] for row in mine])),
            )
            for metric in metrics
        }
    return summary


def _summarize_times(rows, *, by="estimator", metrics=TIMES):
    """Median, minimum and maximum of the timings, per estimator.

    The median rather than the mean: the first fit of a process carries a
    one-time warm-up (imports, torch's first kernels; issue 20 saw 16.4 s
    for ANS's first seed on CLINC150 against 0.6 s for the next ones) that
    the mean would spread over the seeds; with three seeds or more, the
    median leaves it out.

    Parameters
    ----------
    rows : list of dict
        As :func:`run_protocol` returns them.
    by : str or tuple of str, default="estimator"
        As in :func:`summarize`.
    metrics : iterable of str, default=("fit_time", "predict_time")
        The keys to summarize; every row must have them.

    Returns
    -------
    summary : dict
        ``{estimator: {metric: (median, min, max)}}`` in the order of ``rows``.
    """

    def group(row):
        return row[by] if isinstance(by, str) else tuple(row[key] for key in by)

    summary = {}
    for name in dict.fromkeys(group(row) for row in rows):
        mine = [row for row in rows if group(row) == name]
        summary[name] = {}
        for metric in metrics:
            values = [row[metric] for row in mine]
            summary[name][metric] = (
                float(np.median(values)),
                float(np.min(values)),
                float(np.max(values)),
            )
    return summary


def format_results(rows):
    """A plain-text table, one line per estimator, and a line on its statistics.

    The scores are the mean ± std over seeds, the fit and predict times
    their median over seeds with the range beside it (the first fit of a
    process carries a one-time warm-up that the median leaves out); the last
    line says so.
    """
    scores = [m for m in METRICS if m not in TIMES]
    summary = summarize(rows, metrics=scores)
    times = _summarize_times(rows)
    cells = [["Estimator"] + [_HEADERS[m] for m in METRICS]]
    for name, metrics in summary.items():
        line = [name]
        for metric in METRICS:
            if metric in TIMES:
                median, low, high = times[name][metric]
                line.append(f"{median:.2f} ({low:.2f}-{high:.2f})")
            else:
                mean, std = metrics[metric]
                line.append(f"{mean:.4f} ± {std:.4f}")
        cells.append(line)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths))
            )
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append(f"Scores: {STATISTICS['scores']}. Times: {STATISTICS['times']}.")
    return "\n".join(lines)
