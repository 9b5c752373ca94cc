"""Does the training loss of Neal et al.'s baseline network explain the published OpenMax AUROC?

The CAC paper quotes its MNIST Softmax (0.978) and OpenMax (0.981) AUROCs from
Neal et al. (ECCV 2018). In their code (lwneal/counterfactual-open-set,
``train_gan`` in ``training.py``) the K-class network those baselines score,
``classifier_k``, is not trained with cross-entropy: each logit gets a
logistic loss of its own, ``softplus(-y_c * logit_c)`` with ``y_c = +1`` for
the true class and ``-1`` for the others, averaged over classes and samples
(``F.binary_cross_entropy_with_logits`` on one-hot targets is the same
number). A network trained so has no reason to keep the logits of an unknown
digit high, which could favour their scores (the log-sum-exp of the logits and
OpenMax's log-sum-exp of the recalibrated logits, ``known_score="logsumexp"``).

This script trains the CAC benchmark's compact CNN with the reference recipe
and the step schedule (``benchmarks/_common.py``: the network, the recipe
and ``CrossEntropyMSP`` of the CAC benchmark's ``ce-msp`` rows, imported) once
with cross-entropy and once with that one-vs-rest logistic loss, per trial of
the CAC protocol (MNIST, 5k training subset, 10k test set), and scores each
network's test logits with: the maximum softmax probability, the log-sum-exp,
OpenMax with its defaults (``openmax_auroc``) and Neal et al.'s OpenMax score
(``openmax_neal_auroc``), all from ``_common.activation_scores_aurocs`` except
the first.

Run (one process per loss, one torch thread each; each writes its own JSON,
then the report is rendered from both)::

    python benchmarks/openmax/bench_baseline_loss.py --loss cross-entropy
    python benchmarks/openmax/bench_baseline_loss.py --loss one-vs-rest
    python benchmarks/openmax/bench_baseline_loss.py --report-only
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import softmax
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import (
    CrossEntropyMSP,
    SGDWeightDecay,
    activation_scores_aurocs,
    compact_cnn,
    reference_recipe,
    results_header,
    run_record,
)

from sklearn_openset.evaluation import load_class_split_trial
from sklearn_openset.metrics import unknown_roc_auc_score

HERE = Path(__file__).resolve().parent

LOSSES = ("cross-entropy", "one-vs-rest")
SCORES = ("msp_auroc", "logsumexp_auroc", "openmax_auroc", "openmax_neal_auroc")


class OneVsRestLogisticLoss(nn.Module):
    """``mean over samples and classes of softplus(-y_c * logit_c)``, ``y_c = +-1``."""

    def forward(self, logits, y):
        target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, target)


class OneVsRestLogisticMSP(CrossEntropyMSP):
    """``CrossEntropyMSP`` trained with :class:`OneVsRestLogisticLoss`."""

    _criterion = OneVsRestLogisticLoss


def run_one(loss, trial, epochs):
    X_train, X_test, y_train, y_test = load_class_split_trial(
        trial, "mnist", images=True, dtype=np.float32
    )
    module = reference_recipe(lambda: compact_cnn(6), X_train)
    estimator = CrossEntropyMSP if loss == "cross-entropy" else OneVsRestLogisticMSP
    clf = estimator(
        module, max_epochs=epochs, random_state=trial, optimizer=SGDWeightDecay
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    logits_train = clf._forward(X_train).numpy().astype(np.float64)
    logits_test = clf._forward(X_test).numpy().astype(np.float64)
    known = y_test != -1
    closed = clf.classes_[logits_test[known].argmax(axis=1)]
    row = {
        "loss": loss,
        "trial": trial,
        "epochs": epochs,
        "closed_accuracy": float(np.mean(closed == y_test[known])),
        "msp_auroc": unknown_roc_auc_score(
            y_test,
            softmax(logits_test, axis=1).max(axis=1),
            labels=clf.classes_,
            open_label=-1,
        ),
        **activation_scores_aurocs(logits_train, y_train, logits_test, y_test),
        "fit_time": fit_time,
    }
    print(
        json.dumps(
            {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        ),
        flush=True,
    )
    return row


def _path(loss):
    return HERE / f"results_baseline_loss_{loss}.json"


def write_report():
    runs = [
        json.loads(_path(loss).read_text()) for loss in LOSSES if _path(loss).exists()
    ]
    lines = results_header(
        "The training loss of the baseline network "
        "(Neal et al.'s one-vs-rest logistic loss)",
        "benchmarks/openmax/bench_baseline_loss.py",
        [(run["loss"], run["run"]) for run in runs],
        raw=[_path(run["loss"]).name for run in runs],
        about="its docstring: what and why",
    )
    lines += [
        (
            "MNIST, CAC protocol (5k training subset, 10k test set), the CAC "
            "benchmark's compact CNN, reference recipe, step schedule (lr 0.01, "
            "then 0.001 after half the epochs), `random_state=trial`. AUROC with "
            "unknown as the positive class."
        ),
        "",
        "## Mean ± std over the trials",
        "",
    ]
    header = ["loss", "trials", "epochs", "closed-set acc.", *SCORES]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        rows = run["rows"]
        cells = [
            run["loss"],
            str(len(rows)),
            str(rows[0]["epochs"]),
            *(
                f"{np.mean([r[key] for r in rows]):.4f} ± {np.std([r[key] for r in rows]):.4f}"
                for key in ("closed_accuracy", *SCORES)
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## By trial", ""]
    header = ["loss", "trial", "closed-set acc.", *SCORES, "fit (s)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        for r in run["rows"]:
            cells = [
                r["loss"],
                str(r["trial"]),
                *(f"{r[key]:.4f}" for key in ("closed_accuracy", *SCORES)),
                f"{r['fit_time']:.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    (HERE / "results_baseline_loss.md").write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loss", choices=LOSSES)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        if args.loss is None:
            parser.error("--loss is required unless --report-only")
        torch.set_num_threads(args.threads)
        start = time.perf_counter()
        rows = []
        for trial in range(args.trials):
            rows.append(run_one(args.loss, trial, args.epochs))
            run = {"loss": args.loss, "run": run_record(start), "rows": rows}
            # Saved after every trial: an interrupted run keeps what it finished.
            _path(args.loss).write_text(json.dumps(run, indent=1))
    write_report()


if __name__ == "__main__":
    main()
