"""TunedOpenSetThresholdCV: which rule carries the tuned rate to the final model.

``TunedOpenSetThresholdCV`` chooses a rejection rate ``r`` of known samples
by pseudo-open cross-validation; the final model ``f``, fitted on all of
``X_train``, needs a threshold that rejects the share ``r`` of *unseen*
known samples. Per dataset, estimator and seed, the default tuner
(``TunedOpenSetThresholdCV(estimator, random_state=seed)``) is fitted, and
its ``best_rejection_rate_`` ``r`` is turned into a threshold by each rule:

- (a): the ``r``-quantile of ``f``'s own training scores (in-sample);
- (b, 80 %): a stratified 20 % of ``X_train`` held out
  (``train_test_split(..., random_state=seed)``); the final model is fitted
  on the other 80 % only, its threshold the ``r``-quantile of its scores of
  the held-out part;
- (b): the tuner's own rule, ``threshold_``: ``f`` on all the data, the
  threshold from a clone fitted on 80 % (its scores of the other 20 %);
- (c): each split's threshold at ``r`` mapped to the share it rejects of
  that split's own training samples; the mean of those in-sample shares is
  taken as quantile of ``f``'s training scores.

Reported: the test macro-F1 (known classes and the open class) of each rule,
beside ``f`` with no threshold ("none", its own rule only), the estimator
with ``threshold="auto"`` (accept 95 % of the correctly classified training
samples) and the "oracle", ``f``'s threshold that maximizes the test macro-F1
itself; means over seeds. The JSON also holds the chosen rate, the CV score,
the estimator with its default threshold and the share of known test samples
each threshold rejects. This is the measurement of the Notes of
``TunedOpenSetThresholdCV``.

Data: ``load_digits_open_set`` (6 known digits) and ``make_open_set_blobs(
n_samples=2000, n_features=5, n_known_classes=6, n_unknown_classes=4,
cluster_std=2.5)``, seeded per seed. Estimators: ``msp_lr``
(``MSPClassifier(LogisticRegression(max_iter=1000))``), ``openmax_lr``
(``OpenMaxClassifier(estimator=LogisticRegression(max_iter=1000))``) and
``msp_rf`` (``MSPClassifier(RandomForestClassifier(n_estimators=100,
random_state=0))``), the forest on ``--forest-seeds`` only. Run from the
repository root::

    python benchmarks/tuning/bench_transfer.py --seeds 0 1 2 3 4 \\
        --forest-seeds 0 1 2 --threads 1
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import (
    add_output_arguments,
    add_run_arguments,
    render_only,
    results_header,
    run_record,
)

from sklearn_openset import MSPClassifier, OpenMaxClassifier
from sklearn_openset.datasets import load_digits_open_set, make_open_set_blobs
from sklearn_openset.metrics import open_set_f1_score
from sklearn_openset.model_selection import PseudoOpenSetSplit, TunedOpenSetThresholdCV

OPEN_LABEL = -1

DATASETS = {
    "digits": lambda seed: load_digits_open_set(random_state=seed),
    "blobs6": lambda seed: make_open_set_blobs(
        n_samples=2000,
        n_features=5,
        n_known_classes=6,
        n_unknown_classes=4,
        cluster_std=2.5,
        random_state=seed,
    ),
}

ESTIMATORS = {
    "msp_lr": lambda: MSPClassifier(LogisticRegression(max_iter=1000)),
    "openmax_lr": lambda: OpenMaxClassifier(
        estimator=LogisticRegression(max_iter=1000)
    ),
    "msp_rf": lambda: MSPClassifier(
        RandomForestClassifier(n_estimators=100, random_state=0)
    ),
}
FORESTS = {"msp_rf"}
LABELS = {"msp_lr": "MSP-LR", "openmax_lr": "OpenMax-LR", "msp_rf": "MSP-forest"}

#: Table columns: key in the rows' "f1" and heading.
RULES = {
    "none": "none",
    "auto": "auto",
    "a": "(a)",
    "b_80": "(b, 80 %)",
    "b": "(b) tuner",
    "c": "(c)",
    "oracle": "oracle",
}


class Scored:
    """A model's predictions and known-ness scores of one set, computed once."""

    def __init__(self, model, X, y):
        self.classes = model.classes_
        self.y = y
        self.y_pred = model.predict(X)
        self.scores = model.score_samples(X)

    def predict(self, threshold):
        """The predictions, ``open_label`` where the score is below ``threshold``."""
        y_pred = self.y_pred.copy()
        y_pred[self.scores < threshold] = OPEN_LABEL
        return y_pred

    def f1(self, threshold):
        """Macro-F1 of :meth:`predict` at ``threshold``."""
        return open_set_f1_score(self.y, self.predict(threshold), labels=self.classes)

    def known_rejected(self, threshold):
        """Share of the known samples whose score is below ``threshold``."""
        return float(np.mean(self.scores[self.y != OPEN_LABEL] < threshold))

    def oracle(self):
        """The threshold of best macro-F1 (the lowest on ties)."""
        candidates = np.concatenate([[-np.inf], np.unique(self.scores)])
        return candidates[np.argmax([self.f1(t) for t in candidates])]


def quantile_threshold(scores, rate):
    """The ``rate``-quantile of ``scores``; no threshold (``-inf``) at rate 0."""
    return -np.inf if rate == 0 else float(np.quantile(scores, rate))


def without_threshold(estimator):
    return clone(estimator).set_params(threshold=None)


def split_train_rate(tuner, estimator, X, y, seed):
    """Rule (c)'s rate: mean share of each split's training samples it rejects.

    The splits are the tuner's own (its default ``cv`` with the same seed);
    each split's model is fitted again to score its training samples.
    """
    if tuner.best_rejection_rate_ == 0:
        return 0.0
    splits = PseudoOpenSetSplit(tuner.n_splits_, random_state=seed).split(X, y)
    rates = []
    for k, (train, _) in enumerate(splits):
        model = without_threshold(estimator).fit(X[train], y[train])
        threshold = tuner.cv_results_[f"split{k}_threshold"][tuner.best_index_]
        rates.append(np.mean(model.score_samples(X[train]) < threshold))
    return float(np.mean(rates))


def run_one(dataset, name, seed):
    X_train, X_test, y_train, y_test = DATASETS[dataset](seed)
    estimator = ESTIMATORS[name]()
    tuner = TunedOpenSetThresholdCV(estimator, random_state=seed).fit(X_train, y_train)
    rate = tuner.best_rejection_rate_
    full = tuner.estimator_
    full_train_scores = full.score_samples(X_train)
    c_train_rate = split_train_rate(tuner, estimator, X_train, y_train, seed)

    X_part, X_held_out, y_part, _ = train_test_split(
        X_train, y_train, test_size=0.2, stratify=y_train, random_state=seed
    )
    model_80 = without_threshold(estimator).fit(X_part, y_part)

    on_test = Scored(full, X_test, y_test)
    on_test_80 = Scored(model_80, X_test, y_test)
    thresholds = {  # rule: (threshold, its model's test predictions)
        "none": (-np.inf, on_test),
        "a": (quantile_threshold(full_train_scores, rate), on_test),
        "b_80": (
            quantile_threshold(model_80.score_samples(X_held_out), rate),
            on_test_80,
        ),
        "b": (tuner.threshold_, on_test),
        "c": (quantile_threshold(full_train_scores, c_train_rate), on_test),
        "oracle": (on_test.oracle(), on_test),
    }
    f1 = {rule: scored.f1(t) for rule, (t, scored) in thresholds.items()}
    for key, model in (
        ("auto", clone(estimator).set_params(threshold="auto")),
        ("default", clone(estimator)),
    ):
        model.fit(X_train, y_train)
        f1[key] = open_set_f1_score(
            y_test, model.predict(X_test), labels=model.classes_
        )
    return {
        "dataset": dataset,
        "estimator": name,
        "seed": seed,
        "rejection_rate": rate,
        "cv_score": tuner.best_score_,
        "c_train_rate": c_train_rate,
        "f1": f1,
        "known_rejected": {
            rule: scored.known_rejected(t)
            for rule, (t, scored) in thresholds.items()
            if rule != "none"
        },
    }


def run(datasets, names, seeds, forest_seeds):
    rows = []
    for dataset in datasets:
        for name in names:
            for seed in forest_seeds if name in FORESTS else seeds:
                row = run_one(dataset, name, seed)
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def render(results):
    rows = results["rows"]
    lines = results_header(
        "TunedOpenSetThresholdCV: transfer of the tuned rejection rate",
        "benchmarks/tuning/bench_transfer.py",
        results["runs"],
        raw=results["output"] + ".json",
        about="the rules (a), (b), (c) are described in its docstring",
    )
    groups = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["estimator"]), []).append(row)
    names = dict.fromkeys(row["estimator"] for row in rows)
    lines += [
        (
            "Test macro-F1 (known classes and the open class), mean over seeds; "
            "estimators "
            + ", ".join(f"{LABELS[name]} (`{name}`)" for name in names)
            + "; data "
            + ", ".join(f"`{d}`" for d in dict.fromkeys(r["dataset"] for r in rows))
            + "."
        ),
        "",
        "| data, estimator | seeds | " + " | ".join(RULES.values()) + " |",
        "|---|---|" + "---:|" * len(RULES),
    ]
    for (dataset, name), group in groups.items():
        seeds = ",".join(str(row["seed"]) for row in group)
        cells = [f"{np.mean([row['f1'][rule] for row in group]):.3f}" for rule in RULES]
        lines.append(
            f"| {dataset}, {LABELS[name]} | {seeds} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS)
    )
    parser.add_argument(
        "--estimators", nargs="+", choices=list(ESTIMATORS), default=list(ESTIMATORS)
    )
    add_run_arguments(parser, seeds=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--forest-seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="seeds of the random-forest estimator (its fits are the slow part)",
    )
    add_output_arguments(parser, Path(__file__).with_name("results_transfer"))
    args = parser.parse_args(argv)
    output = Path(args.output)
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        rows = run(args.datasets, args.estimators, args.seeds, args.forest_seeds)
    results = {"output": output.name, "rows": rows, "runs": [run_record(start)]}
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
