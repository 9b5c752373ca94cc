"""The evaluation protocol: fit on known classes, test on known + unknown."""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..datasets import (
    CAC_MNIST_KNOWN_CLASSES,
    load_digits_open_set,
    load_mnist,
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
    "fit_time": "Fit (s)",
    "predict_time": "Predict (s)",
}


@dataclass(frozen=True)
class _Entry:
    factory: Callable
    description: str


ESTIMATORS: dict = {}
DATASETS: dict = {}


def register_estimator(name, factory, *, description=""):
    """Make an estimator available to ``sklearn-openset evaluate``.

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


def register_dataset(name, loader, *, description=""):
    """Make a dataset available to ``sklearn-openset evaluate``.

    Parameters
    ----------
    name : str
        Name used on the command line (``--dataset NAME``).
    loader : callable
        ``loader(seed, *, known_ratio, data_home)`` returns
        ``X_train, X_test, y_train, y_test`` where ``y_test`` marks unknown
        samples with ``-1``; ``known_ratio=None`` means the dataset's default.
    description : str, default=""
        One line shown by ``sklearn-openset evaluate --list``.
    """
    DATASETS[name] = _Entry(loader, description)


def _load_digits(seed, *, known_ratio=None, data_home=None):
    return load_digits_open_set(known_ratio=known_ratio or 0.6, random_state=seed)


def _load_mnist(seed, *, known_ratio=None, data_home=None):
    if known_ratio is not None:
        raise ValueError(
            "The mnist protocol uses the CAC paper's five fixed known-class lists "
            "(trial = seed % 5); known_ratio does not apply."
        )
    mnist = load_mnist(data_home)
    known = CAC_MNIST_KNOWN_CLASSES[seed % len(CAC_MNIST_KNOWN_CLASSES)]
    train_rows = np.isin(mnist.y_train, known)
    X_train = mnist.X_train[train_rows].reshape(-1, 28 * 28) / 255.0
    X_test = mnist.X_test.reshape(-1, 28 * 28) / 255.0
    y_test = relabel_open_set(mnist.y_test, known)
    return X_train, X_test, mnist.y_train[train_rows], y_test


def _load_blobs(seed, *, known_ratio=None, data_home=None):
    n_known = 3 if known_ratio is None else max(2, round(5 * known_ratio))
    return make_open_set_blobs(
        n_samples=1000,
        n_features=8,
        n_known_classes=n_known,
        n_unknown_classes=5 - n_known,
        random_state=seed,
    )


register_dataset(
    "digits",
    _load_digits,
    description="scikit-learn digits (embedded), 6 of 10 digits known, 70/30 split",
)
register_dataset(
    "mnist",
    _load_mnist,
    description="MNIST 5k train / 10k test, CAC paper's 6/4 known lists",
)
register_dataset(
    "blobs", _load_blobs, description="synthetic Gaussian blobs, 3 known / 2 unknown"
)


def _load_clinc150(seed, *, known_ratio=None, data_home=None):
    # Sentence embeddings of CLINC150 (TEXTOIR protocol), embedded once by the
    # default TextEmbedder and cached on disk (see embed_texts_cached).
    from ..datasets import load_clinc150
    from ..feature_extraction import TextEmbedder, embed_texts_cached

    split = load_clinc150(data_home, known_ratio=known_ratio or 0.5, random_state=seed)
    raw = load_clinc150(data_home)
    embedder = TextEmbedder().fit(raw.text_train[:1])
    X_train = embed_texts_cached(embedder, raw.text_train, name="clinc150-train")
    X_test = embed_texts_cached(embedder, raw.text_test, name="clinc150-test")
    known = np.isin(raw.y_train, split.known_classes)
    return X_train[known], X_test, raw.y_train[known], split.y_test


register_dataset(
    "clinc150",
    _load_clinc150,
    description=(
        "CLINC150 (TEXTOIR protocol, 50% known by default) as all-MiniLM-L6-v2 "
        "embeddings, cached in $SKLEARN_OPENSET_CACHE"
    ),
)


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

    labels = estimator.classes_
    kwargs = {"labels": labels, "open_label": open_label}
    return {
        "accuracy": open_set_accuracy_score(y_test, y_pred, **kwargs),
        "macro_f1": open_set_f1_score(y_test, y_pred, **kwargs),
        "f1_known": open_set_f1_score(y_test, y_pred, average="known", **kwargs),
        "f1_open": open_set_f1_score(y_test, y_pred, average="open", **kwargs),
        "auroc": unknown_roc_auc_score(y_test, known_scores, **kwargs),
        "closed_accuracy": closed_set_accuracy_score(y_test, closed_pred, **kwargs),
        "fit_time": fit_time,
        "predict_time": predict_time,
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
        Registered estimator names; ``None`` runs all of them.
    dataset : str, default="digits"
        A registered dataset name.
    seeds : iterable of int, default=(0, 1, 2)
        One split (and one estimator ``random_state``) per seed.
    known_ratio : float, default=None
        Share of the classes that are known; ``None`` for the dataset's
        protocol default.
    data_home : str or path, default=None
        Where the benchmark data lies (see
        :func:`sklearn_openset.datasets.get_data_home`).
    progress : bool, default=True
        Print one line per run to standard error.

    Returns
    -------
    rows : list of dict
        One row per estimator and seed: ``estimator``, ``seed`` and the
        metrics of :func:`evaluate_estimator`.
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
    for seed in seeds:
        X_train, X_test, y_train, y_test = DATASETS[dataset].factory(
            seed, known_ratio=known_ratio, data_home=data_home
        )
        for name in names:
            estimator = ESTIMATORS[name].factory(seed)
            result = evaluate_estimator(estimator, X_train, y_train, X_test, y_test)
            rows.append({"estimator": name, "seed": seed, **result})
            if progress:
                print(
                    f"[{len(rows)}/{total}] {name} on {dataset}, seed {seed}: "
                    f"macro-F1 {result['macro_f1']:.4f}, AUROC {result['auroc']:.4f} "
                    f"({result['fit_time']:.2f} s fit)",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def summarize(rows):
    """Mean and standard deviation of every metric, per estimator.

    Returns
    -------
    summary : dict
        ``{estimator: {metric: (mean, std)}}`` in the order of ``rows``.
    """
    summary = {}
    for name in dict.fromkeys(row["estimator"] for row in rows):
        mine = [row for row in rows if row["estimator"] == name]
        summary[name] = {
            metric: (
                float(np.mean([row[metric] for row in mine])),
                float(np.std([row[metric] for row in mine])),
            )
            for metric in METRICS
        }
    return summary


def format_results(rows):
    """A plain-text table: mean ± std over seeds, one line per estimator."""
    summary = summarize(rows)
    cells = [["Estimator"] + [_HEADERS[m] for m in METRICS]]
    for name, metrics in summary.items():
        line = [name]
        for metric in METRICS:
            mean, std = metrics[metric]
            digits = 2 if metric.endswith("time") else 4
            line.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
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
    return "\n".join(lines)
