"""Validation of ANS's defaults on CLINC150 without the test set.

The TEXTOIR dev set holds known intents only, so an open class is made inside
each split's known intents: at ``--ratio`` known (50 %), for each seed, two
thirds of the split's known intents (drawn with ``RandomState(1000 + seed)``)
are trained on (their training rows) and the other third is held out; the
dev rows of all the split's known intents are scored, the held-out intents as
the open class. Features: frozen all-MiniLM-L6-v2 embeddings (cached), or,
with ``--fine-tune``, the encoder fine-tuned per seed on the training rows of
the trained intents only (the held-out third stays unseen, as unknown intents
are), then embedded (cached per seed and fine-tuning setting). The test set is
never loaded into a metric.

Each variant is a JSON object of ``ANSOneVsRestClassifier`` parameters (the
radius scale is the estimator's ``radius_factor``; the former hooks that
overrode private methods, ``_radius_scale``, ``_noise_scale``,
``_shared_radius`` and ``_global_scale``, are gone); ``_unit_norm`` (true)
scales every feature vector to unit length before the
fit (for encoders run with ``normalize=False``). The number of synthesized
negatives per positive and step is the estimator's ``n_synthetic`` (the
former hook ``_n_synthetic``, separate calls of ``synthesize_negatives``,
is gone). ``_classifier_hidden_layer_sizes`` (a list) makes the known-class
classifier ``MLP(n_features, n_classes, hidden_layer_sizes=...)`` (``[768]``:
the paper's one hidden layer of 768 with ReLU). The name ``msp`` runs
``MSPClassifier(LogisticRegression(max_iter=1000), threshold=0.5)`` instead
(its parameters, e.g. ``{"threshold": "auto"}``, override the threshold).
``--dataset dbpedia`` runs the same protocol on the 14-class DBpedia (few
classes, long texts).
Run from the repository root, e.g.::

    python benchmarks/ans/validate_defaults.py \\
        '{"msp": {}, "paper-like": {"max_epochs": 30, "head_dropout": 0.1},
          "default": {}}'

It prints one line per variant: the mean ± std over the seeds of the
macro-F1, F1-known, F1-open, accuracy, the share of known dev rows accepted
and of held-out rows rejected, the AUROC of ``score_samples`` and the
closed-set accuracy of the known-class classifier.
"""

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import fine_tuned_embeddings, frozen_embeddings

from sklearn_openset import ANSOneVsRestClassifier, MSPClassifier
from sklearn_openset.datasets import load_clinc150, load_dbpedia, select_known_classes
from sklearn_openset.evaluation import evaluate_predictions
from sklearn_openset.nn import MLP


def validation_rows(raw, seed, ratio, fraction, rotation=0):
    """Rows of the trained intents in train, of all known intents in dev, dev labels.

    ``rotation`` j > 0 holds out the j-th other block of the seed's
    permutation of the known intents (block 0 is the default's held-out part),
    so that the rotations of a seed hold out disjoint intents.
    """
    # The known intents of load_clinc150(known_ratio=ratio, random_state=seed)
    # (and DBpedia's at that ratio), without reading the files again.
    known = select_known_classes(raw.y_train, known_ratio=ratio, random_state=seed)
    # RandomState.choice(known, n, replace=False) is permutation(len(known))[:n]
    order = known[np.random.RandomState(1000 + seed).permutation(len(known))]
    n_trained = round(fraction * len(known))
    n_held_out = len(known) - n_trained
    if rotation == 0:
        held_out = order[n_trained:]
    else:
        end = n_trained - (rotation - 1) * n_held_out
        held_out = order[end - n_held_out : end]
    if len(held_out) != n_held_out:
        raise ValueError(
            f"--rotations: {len(known)} known intents hold at most "
            f"{len(known) // n_held_out} disjoint blocks of {n_held_out}."
        )
    trained = np.setdiff1d(known, held_out)
    train_rows = np.isin(raw.y_train, trained)
    dev_rows = np.isin(raw.y_dev, known)
    y_dev = raw.y_dev[dev_rows].astype(object)
    y_dev[~np.isin(raw.y_dev[dev_rows], trained)] = -1
    return train_rows, dev_rows, y_dev


def validation_split(raw, X_train, X_dev, seed, ratio, fraction, rotation=0):
    train_rows, dev_rows, y_dev = validation_rows(raw, seed, ratio, fraction, rotation)
    return X_train[train_rows], raw.y_train[train_rows], X_dev[dev_rows], y_dev


def finetuned_validation_split(raw, seed, ratio, fraction, fine_tune, rotation=0):
    """The split on an encoder fine-tuned on the trained intents only (cached)."""
    train_rows, dev_rows, y_dev = validation_rows(raw, seed, ratio, fraction, rotation)
    y = raw.y_train[train_rows]
    X, X_val, _ = fine_tuned_embeddings(
        [t for t, keep in zip(raw.text_train, train_rows) if keep],
        y,
        [t for t, keep in zip(raw.text_dev, dev_rows) if keep],
        fine_tune,
        seed,
    )
    return X, y, X_val, y_dev


def make(name, params, seed):
    if name.startswith("msp"):
        return MSPClassifier(
            LogisticRegression(max_iter=1000), **{"threshold": 0.5, **params}
        )
    return ANSOneVsRestClassifier(random_state=seed, **params)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", help="JSON object: name -> parameters")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument(
        "--dataset",
        choices=["clinc150", "dbpedia"],
        default="clinc150",
        help=(
            "dbpedia: the 14-class DBpedia, its known classes drawn by "
            "select_known_classes(known_ratio=--ratio) (0.25: 4 classes, the "
            "CROSR protocol's draw), its dev set 50 texts per class"
        ),
    )
    parser.add_argument("--fraction", type=float, default=2 / 3)
    parser.add_argument(
        "--first-rotation",
        type=int,
        default=0,
        help="run the rotations from this one on (to complete an earlier run)",
    )
    parser.add_argument(
        "--per-split",
        action="store_true",
        help="also print the macro-F1 and the AUROC of every (seed, rotation)",
    )
    parser.add_argument(
        "--rotations",
        type=int,
        default=1,
        help=(
            "held-out blocks per seed, disjoint (with few classes one held-out "
            "block is a noisy estimate); every (seed, block) is one row"
        ),
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--fine-tune",
        default=None,
        help=(
            "JSON object of TextEmbedder fine-tuning parameters (e.g. "
            '\'{"fine_tune_epochs": 2, "n_trainable_layers": 2}\'; give the '
            "epochs: with fine_tune_epochs='auto' fewer than 25 classes stay "
            "frozen): the features "
            "come from the encoder fine-tuned on each seed's trained intents "
            "(never on the held-out ones), instead of the frozen encoder"
        ),
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raw = load_clinc150() if args.dataset == "clinc150" else load_dbpedia()
    X_train = frozen_embeddings(raw.text_train)
    X_dev = frozen_embeddings(raw.text_dev)
    for name, params in json.loads(args.variants).items():
        rows = []
        cpu = time.process_time()
        rotations = range(args.first_rotation, args.rotations)
        for seed, rotation in itertools.product(args.seeds, rotations):
            if args.fine_tune is None:
                X, y, X_val, y_val = validation_split(
                    raw, X_train, X_dev, seed, args.ratio, args.fraction, rotation
                )
            else:
                X, y, X_val, y_val = finetuned_validation_split(
                    raw,
                    seed,
                    args.ratio,
                    args.fraction,
                    json.loads(args.fine_tune),
                    rotation,
                )
            fit_params = dict(params)
            hidden = fit_params.pop("_classifier_hidden_layer_sizes", None)
            if hidden is not None:
                fit_params["module"] = MLP(
                    X.shape[1], len(np.unique(y)), hidden_layer_sizes=tuple(hidden)
                )
            if fit_params.pop("_unit_norm", False):
                X = X / np.linalg.norm(X, axis=1, keepdims=True)
                X_val = X_val / np.linalg.norm(X_val, axis=1, keepdims=True)
            clf = make(name, fit_params, seed).fit(X, y)
            y_pred = clf.predict(X_val)
            known = y_val != -1
            closed = clf.classes_[clf.predict_proba(X_val).argmax(axis=1)]
            m = evaluate_predictions(
                y_val, y_pred, clf.score_samples(X_val), closed, labels=clf.classes_
            )
            rows.append(
                [
                    m["macro_f1"],
                    m["f1_known"],
                    m["f1_open"],
                    m["accuracy"],
                    np.mean(y_pred[known] != -1),
                    np.mean(y_pred[~known] == -1),
                    m["auroc"],
                    m["closed_accuracy"],
                ]
            )
        rows = 100 * np.array(rows)
        cells = " | ".join(
            f"{m:.2f} ± {s:.2f}" for m, s in zip(rows.mean(axis=0), rows.std(axis=0))
        )
        print(
            f"| {name} | `{json.dumps(params)}` | {cells} | "
            f"{time.process_time() - cpu:.0f} |",
            flush=True,
        )
        if args.per_split:
            print(
                f"  {name}, per (seed, rotation): macro-F1 "
                + " ".join(f"{v:.1f}" for v in rows[:, 0])
                + "; AUROC "
                + " ".join(f"{v:.1f}" for v in rows[:, 6]),
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
