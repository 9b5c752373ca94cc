"""The CAC paper's own trained MNIST networks, scored through the library.

``../shared/reference/cac-openset-mnist`` holds the classifier32 networks that
the CAC reference code trained on full MNIST for its five trials, with the
CAC loss and with cross-entropy (the paper's softmax baseline). Each is
loaded into :class:`~sklearn_openset.nn.Classifier32` (``pooling="flatten"``,
the same layers under other names) and given to the library with
``max_epochs=0`` (nothing is trained; ``fit`` does only what follows
training) on the known digits of the 5k MNIST subset:

- CAC: ``CACClassifier(module=<CAC network>, max_epochs=0)``: anchors
  re-estimated on the correctly classified training images, the CAC score;
- OpenMax: ``OpenMaxClassifier(module=<cross-entropy network>,
  max_epochs=0)`` with the paper's probability score and with Neal et al.'s
  (``known_score="logsumexp"``); MSP: the top softmax probability of the
  same network's logits.

Inputs as the reference feeds them: pixels / 255, normalised with the
trial's ``data_mean`` / ``data_std`` (``config_mnist.json``), resized to
32x32 inside the network. Reported: AUROC of the unknown digits on the 10k
MNIST test set and closed-set accuracy, per trial and mean, beside the
published numbers. Run from the repository root::

    python benchmarks/cac/bench_reference_networks.py --threads 2
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import ROOT, add_output_arguments, render_only, results_header, run_record

from sklearn_openset import CACClassifier, OpenMaxClassifier
from sklearn_openset.datasets import load_mnist
from sklearn_openset.metrics import closed_set_accuracy_score, unknown_roc_auc_score
from sklearn_openset.utils._reference import (
    cac_reference_network,
    cac_reference_split,
)

REFERENCE = ROOT.parent / "shared" / "reference" / "cac-openset-mnist"
PUBLISHED = {"cac": 0.985, "msp": 0.978, "openmax": 0.981}


def trial_data(trial, data_home, folder=REFERENCE):
    """``X_train, y_train, X_test, y_test`` of a trial, normalised as the reference."""
    known, prepare = cac_reference_split(folder, trial)
    mnist = load_mnist(data_home)
    train = np.isin(mnist.y_train, known)
    y_test = np.where(np.isin(mnist.y_test, known), mnist.y_test, -1)
    return (
        prepare(mnist.X_train[train]),
        mnist.y_train[train],
        prepare(mnist.X_test),
        y_test,
    )


def closed_accuracy(clf, X, y):
    proba = clf.predict_proba(X)
    return closed_set_accuracy_score(
        y, clf.classes_[proba.argmax(axis=1)], labels=clf.classes_
    )


def run(trials, data_home):
    rows = []
    for trial in trials:
        X_train, y_train, X_test, y_test = trial_data(trial, data_home)
        row = {"trial": trial}
        cac = CACClassifier(
            module=cac_reference_network(REFERENCE, trial, "CACclassifierAnchorLoss"),
            max_epochs=0,
        ).fit(X_train, y_train)
        row["cac"] = unknown_roc_auc_score(y_test, cac.score_samples(X_test))
        row["cac_closed"] = closed_accuracy(cac, X_test, y_test)
        network = cac_reference_network(REFERENCE, trial, "closedSetClassifier")
        for name, known_score in (
            ("openmax", "probability"),
            ("openmax_logsumexp", "logsumexp"),
        ):
            openmax = OpenMaxClassifier(
                module=network, max_epochs=0, known_score=known_score
            ).fit(X_train, y_train)
            row[name] = unknown_roc_auc_score(y_test, openmax.score_samples(X_test))
        # MSP: the softmax of the network's own logits (skorch's forward).
        logits = openmax.net_.forward(X_test).double()
        proba = torch.softmax(logits, dim=1).numpy()
        row["msp"] = unknown_roc_auc_score(y_test, proba.max(axis=1))
        row["msp_closed"] = closed_set_accuracy_score(
            y_test, openmax.classes_[proba.argmax(axis=1)], labels=openmax.classes_
        )
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


COLUMNS = {
    "cac": "CAC AUROC",
    "cac_closed": "CAC closed acc",
    "openmax": "OpenMax AUROC (probability)",
    "openmax_logsumexp": "OpenMax AUROC (logsumexp)",
    "msp": "MSP AUROC",
    "msp_closed": "cross-entropy closed acc",
}


def render(results):
    rows = results["rows"]
    lines = results_header(
        "CAC and OpenMax from the CAC paper's own MNIST networks",
        "benchmarks/cac/bench_reference_networks.py",
        results["runs"],
        raw=results["output"] + ".json",
        about="protocol in its docstring",
    )
    lines += [
        "| trial | " + " | ".join(COLUMNS.values()) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for row in rows:
        lines.append(
            f"| {row['trial']} | " + " | ".join(f"{row[k]:.4f}" for k in COLUMNS) + " |"
        )
    means = {k: np.mean([row[k] for row in rows]) for k in COLUMNS}
    lines.append(
        "| mean | " + " | ".join(f"**{means[k]:.4f}**" for k in COLUMNS) + " |"
    )
    lines += [
        "",
        (
            f"Published (CAC paper, Table 2, MNIST): CAC {PUBLISHED['cac']}, softmax "
            f"{PUBLISHED['msp']}, OpenMax {PUBLISHED['openmax']}; closed-set accuracy "
            "0.998 (CAC) and 0.997 (softmax)."
        ),
        "",
    ]
    if results.get("notes"):
        lines += [results["notes"], ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-home", default=None)
    add_output_arguments(parser, Path(__file__).with_name("results_reference_networks"))
    args = parser.parse_args()
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    start = time.perf_counter()
    rows = run(args.trials, args.data_home or ROOT.parent / "shared" / "data")
    output = Path(args.output)
    results = {"runs": [run_record(start)], "output": output.name, "rows": rows}
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
