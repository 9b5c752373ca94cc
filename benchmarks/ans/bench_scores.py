"""How well do simple unknown scores rank CLINC150's open sentences?

A diagnostic beside ``bench_clinc.py``: on the same splits and the same
features (all-MiniLM-L6-v2, frozen or fine-tuned per split, from the same
cache), the AUROC of known against open test sentences for ANS's score and
for scores that need no training beyond a classifier or the class means:

- ``ans``: ``ANSOneVsRestClassifier(random_state=seed).score_samples``, the
  largest head logit (``--n-synthetic`` sets that parameter);
- ``msp`` and ``max-logit``: the largest softmax probability and the largest
  logit of ``LogisticRegression(max_iter=1000)`` (Hendrycks and Gimpel 2017;
  Hendrycks et al. 2022);
- ``knn-1`` and ``knn-10``: minus the distance to the nearest and to the 10th
  nearest training sentence (Sun et al. 2022; the embeddings are unit
  vectors, so this ranks as the cosine similarity does);
- ``mahalanobis``: minus the smallest Mahalanobis distance to a class mean
  with one shared covariance, Ledoit-Wolf shrunk (Lee et al. 2018; on
  transformer features, Podolskiy et al. 2021);
- ``centroid``: minus the smallest Euclidean distance to a class mean.

It says whether a method that draws its rejection from distances in this
feature space could rank the open sentences better than the logistic
regression's softmax, which is what decides whether ANS can clearly beat MSP
on these features (README). Run from the repository root::

    python benchmarks/ans/bench_scores.py --features frozen \\
        --seeds 0 1 2 3 4 5 6 7 8 9

It writes ``results_scores.json`` and ``results_scores.md`` next to this file
(``--output`` to change; ``--from-json`` rewrites the markdown of a JSON).
Fine-tuned features are made (and cached) per split as in ``bench_clinc.py``
when the cache does not hold them.
"""

import argparse
import sys
import time

import numpy as np

# Run as a script: its folder is on sys.path (and bench_clinc puts benchmarks/).
from bench_clinc import (
    add_clinc_arguments,
    ans_parameters,
    clinc_runs,
    record_header,
    rewrite_markdown,
    write_results,
)
from sklearn.covariance import LedoitWolf
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import LabelEncoder

from sklearn_openset import ANSOneVsRestClassifier
from sklearn_openset.metrics import unknown_roc_auc_score

SCORES = ("ans", "msp", "max-logit", "knn-1", "knn-10", "mahalanobis", "centroid")


def class_means(X, y):
    labels = LabelEncoder().fit_transform(y)
    counts = np.bincount(labels)
    means = np.zeros((len(counts), X.shape[1]))
    np.add.at(means, labels, X)
    return means / counts[:, None], labels


def squared_distances(X, means, precision=None):
    """``(n, n_classes)`` squared distances to the means, in the given metric."""
    if precision is None:
        precision = np.eye(X.shape[1])
    XP = X @ precision
    return (
        np.einsum("ij,ij->i", XP, X)[:, None]
        - 2 * XP @ means.T
        + np.einsum("ij,jk,ik->i", means, precision, means)[None, :]
    )


def scores(X_train, y_train, X_test, seed, ans_params=None):
    X_train = X_train.astype(np.float64)
    X_test = X_test.astype(np.float64)
    ans = ANSOneVsRestClassifier(random_state=seed, **(ans_params or {}))
    out = {"ans": ans.fit(X_train, y_train).score_samples(X_test)}
    logistic = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    out["msp"] = logistic.predict_proba(X_test).max(axis=1)
    out["max-logit"] = logistic.decision_function(X_test).max(axis=1)
    distances, _ = NearestNeighbors(n_neighbors=10).fit(X_train).kneighbors(X_test)
    out["knn-1"] = -distances[:, 0]
    out["knn-10"] = -distances[:, 9]
    means, labels = class_means(X_train, y_train)
    precision = LedoitWolf().fit(X_train - means[labels]).precision_
    out["mahalanobis"] = -squared_distances(X_test, means, precision).min(axis=1)
    out["centroid"] = -squared_distances(X_test, means).min(axis=1)
    return out


def markdown(record, raw):
    runs = record["runs"]
    lines = record_header(
        "Unknown scores on CLINC150 features: AUROC (known vs open test sentences)",
        "benchmarks/ans/bench_scores.py",
        record,
        raw,
    )
    lines += [
        (
            "Mean ± standard deviation over the seeds, in %; the splits, features "
            f"and fine-tuning of `bench_clinc.py` ({record['fine_tune']}); the "
            "scores are described in the script's docstring. Higher is better; "
            "the best of each row in bold."
        ),
        "",
        "| features | known | seeds | " + " | ".join(SCORES) + " |",
        "|---|---|---|" + "---|" * len(SCORES),
    ]
    groups = {}
    for run in runs:
        groups.setdefault((run["features"], run["ratio"]), []).append(run)
    for (features, ratio), rows in groups.items():
        values = np.array([[row["auroc"][s] for s in SCORES] for row in rows])
        means, stds = values.mean(axis=0), values.std(axis=0)
        cells = [
            f"**{m:.2f}** ± {s:.2f}" if m == means.max() else f"{m:.2f} ± {s:.2f}"
            for m, s in zip(means, stds)
        ]
        lines.append(
            f"| {features} | {ratio:.0%} | {len(rows)} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_clinc_arguments(parser, threads=1, output="results_scores")
    args = parser.parse_args(argv)
    if rewrite_markdown(args, markdown):
        return
    start = time.perf_counter()
    runs = []
    for run in clinc_runs(args):
        values = scores(
            run.X_train, run.y_train, run.X_test, run.seed, ans_parameters(args)
        )
        auroc = {
            name: 100
            * unknown_roc_auc_score(
                run.split.y_test,
                score,
                labels=run.split.known_classes,
                open_label=-1,
            )
            for name, score in values.items()
        }
        runs.append(
            {
                "features": run.features,
                "ratio": run.ratio,
                "seed": run.seed,
                "auroc": auroc,
            }
        )
        print(
            f"{run.features} {run.ratio:.0%} seed {run.seed}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in auroc.items()),
            file=sys.stderr,
            flush=True,
        )
    write_results(args, start, runs, markdown)


if __name__ == "__main__":
    sys.exit(main())
