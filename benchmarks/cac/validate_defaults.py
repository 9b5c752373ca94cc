"""CAC's training defaults for images, chosen without the test set.

Issue 21 asks whether ``CACClassifier`` should train images as the CAC
reference code does on MNIST, and with which learning-rate schedule. The
reference code's MNIST run is 35 epochs at lr 0.01 with no drop; it
standardizes the pixels, trains on random resized crops and uses a weight
decay of 5e-6. The library's default until now: a step schedule (``lr``
for half the epochs, ``lr / 10`` after), the images as given, no weight
decay.

Protocol (validation only: the MNIST test images are never loaded). For
each CAC-protocol trial, the 5k subset's training images of the trial's six
known digits are split by :class:`~sklearn_openset.model_selection.
PseudoOpenSetSplit` (one split, ``sub_known_ratio=4 / 6``, ``test_size=0.2``,
``random_state=trial``): four sub-known digits are trained on (80 % of their
images), and the held-out 20 % of them and all images of the two sub-open
digits are scored. Metrics: AUROC of ``score_samples`` (sub-open as
unknown), closed-set accuracy on the held-out sub-known images, and macro-F1
over the sub-known classes and the open class with ``threshold="auto"``.

Variants, each on the same splits, seeds and backbone (``--backbone``; the
default ``small-cnn`` of ``results_quality.md``; classifier32, the
estimator's default network, costs about 20 times more per epoch here):

- ``plain/step``: images as given, the step schedule (the former default);
- ``plain/constant``: images as given, ``lr`` constant (``lr_schedule=None``);
- ``reference/step``: the reference code's input recipe (random resized
  crops in training, pixels standardized by the training images' mean and
  standard deviation, SGD with weight decay 5e-6), the step schedule;
- ``reference/constant``: the same recipe at constant ``lr``: the reference
  code's MNIST configuration.

Run from the repository root::

    python benchmarks/cac/validate_defaults.py --trials 0 1 2 3 4 --threads 1
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SGDWeightDecay,
    add_output_arguments,
    reference_recipe,
    render_only,
    results_header,
    run_record,
)
from bench_quality import _module, outputs_once

from sklearn_openset import CACClassifier
from sklearn_openset.datasets import CAC_MNIST_KNOWN_CLASSES as TRIALS
from sklearn_openset.evaluation import (
    DATASETS,
    evaluate_predictions,
    load_class_split_trial,
)
from sklearn_openset.model_selection import PseudoOpenSetSplit

VARIANTS = ("plain/step", "plain/constant", "reference/step", "reference/constant")
METRICS = ("auroc", "closed_accuracy", "macro_f1")


def validation_split(data, trial):
    """Training and validation rows of one trial; the test rows stay unread.

    ``mnist``: the trial's known-digit training images of the 5k subset, 4 of
    the 6 digits sub-known. ``digits``: the same protocol on scikit-learn's
    8x8 digits as vectors. ``clinc150``: the training rows of seed ``trial``'s
    50 % split (frozen MiniLM embeddings), half of its intents sub-known.
    """
    if data == "clinc150":
        X, _, y, _ = DATASETS["clinc150"].factory(trial, known_ratio=0.5)
        ratio = 0.5
    else:
        X, _, y, _ = load_class_split_trial(
            trial, data, images=data == "mnist", dtype=np.float32
        )
        ratio = 4 / 6
    cv = PseudoOpenSetSplit(
        n_splits=1, sub_known_ratio=ratio, test_size=0.2, random_state=trial
    )
    ((train, valid),) = cv.split(X, y)
    return X[train], X[valid], y[train], y[valid]


def run_variant(variant, trial, split, data, backbone, epochs):
    X_train, X_valid, y_train, y_valid = split
    recipe, schedule = variant.split("/")
    n_classes = len(np.unique(y_train))
    params = {"random_state": trial}
    params["lr_schedule"] = "step" if schedule == "step" else None
    if data == "mnist":
        module = _module(backbone, 28, recipe, n_classes=n_classes)
        params["max_epochs"] = epochs
    else:  # the estimator's default MLP and epochs
        if recipe != "plain":
            raise ValueError("the reference recipe is for images")
        module, backbone, epochs = None, "mlp", CACClassifier().max_epochs
    if recipe == "reference":
        module = reference_recipe(module, X_train)
        params["optimizer"] = SGDWeightDecay
    clf = CACClassifier(module, **params)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    metrics = evaluate_predictions(
        y_valid, *outputs_once(clf, X_valid), labels=clf.classes_
    )
    row = {
        "data": data,
        "variant": variant,
        "trial": trial,
        "backbone": backbone,
        "epochs": epochs,
        "n_train": len(X_train),
        "n_valid": len(X_valid),
        **{k: float(metrics[k]) for k in METRICS},
        "fit_time": fit_time,
    }
    print(
        f"{data} {variant} trial {trial}: AUROC {row['auroc']:.4f}, closed acc "
        f"{row['closed_accuracy']:.4f}, macro-F1 {row['macro_f1']:.4f}, "
        f"fit {fit_time:.0f} s",
        flush=True,
    )
    return row


DATA_LABELS = {
    "mnist": "MNIST 5k subset, 4 of the trial's 6 known digits sub-known",
    "digits": "scikit-learn's digits as vectors, 4 of the trial's 6 known digits "
    "sub-known",
    "clinc150": "CLINC150 50 % known, frozen MiniLM embeddings, half of the "
    "known intents sub-known",
}


def _runs(results):
    return results.get("runs") or [results["run"]]


def render(results):
    rows = [{"data": "mnist", **row} for row in results["rows"]]
    lines = results_header(
        "CACClassifier: input recipe and learning-rate schedule on the "
        "validation protocol (pseudo-open splits)",
        "benchmarks/cac/validate_defaults.py",
        _runs(results),
        about="protocol in its docstring",
        raw="results_validation.json",
    )
    for data, label in DATA_LABELS.items():
        mine = [row for row in rows if row["data"] == data]
        if not mine:
            continue
        trials = sorted({row["trial"] for row in mine})
        backbone, epochs = mine[0]["backbone"], mine[0]["epochs"]
        lines += [
            f"## {label}",
            "",
            (
                f"{backbone}, {epochs} epochs; mean ± standard deviation over "
                f"trials (seeds) {trials}, one pseudo-open split each; the test "
                "rows are not used."
            ),
            "",
            "| variant | AUROC | closed-set accuracy | macro-F1 | fit s |",
            "|---|---:|---:|---:|---:|",
        ]
        variants = [v for v in VARIANTS if any(r["variant"] == v for r in mine)]
        for variant in variants:
            chosen = [row for row in mine if row["variant"] == variant]
            cells = []
            for key in METRICS:
                values = np.array([row[key] for row in chosen])
                cells.append(f"{values.mean():.4f} ± {values.std():.4f}")
            fit = np.median([row["fit_time"] for row in chosen])
            lines.append(f"| {variant} | {' | '.join(cells)} | {fit:.0f} |")
        lines += [
            "",
            "AUROC per trial:",
            "",
            "| variant | " + " | ".join(str(t) for t in trials) + " |",
            "|---|" + "---:|" * len(trials),
        ]
        for variant in variants:
            by_trial = {r["trial"]: r["auroc"] for r in mine if r["variant"] == variant}
            cells = [f"{by_trial[t]:.4f}" if t in by_trial else "-" for t in trials]
            lines.append(f"| {variant} | " + " | ".join(cells) + " |")
        lines.append("")
    if results.get("notes"):
        lines += [results["notes"]]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_arguments(parser, Path(__file__).with_name("results_validation"))
    parser.add_argument("--trials", type=int, nargs="+", default=list(range(5)))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument(
        "--backbone", default="small-cnn", choices=("small-cnn", "compact-cnn")
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--data", default="mnist", choices=("mnist", "digits", "clinc150")
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="add the rows to the results file's (other data or variants)",
    )
    args = parser.parse_args(argv)
    if render_only(args, render):
        return
    unknown = set(args.variants) - set(VARIANTS)
    if unknown or not set(args.trials) <= set(range(len(TRIALS))):
        parser.error(f"variants among {VARIANTS}, trials among 0-{len(TRIALS) - 1}")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    output = Path(args.output)
    results = {"rows": [], "runs": []}
    if args.merge and output.with_suffix(".json").exists():
        results = json.loads(output.with_suffix(".json").read_text())
        results["runs"] = _runs(results)
        results.pop("run", None)
    for trial in args.trials:
        split = validation_split(args.data, trial)
        for variant in args.variants:
            results["rows"].append(
                run_variant(
                    variant, trial, split, args.data, args.backbone, args.epochs
                )
            )
    results["runs"].append(run_record(start))
    output.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    output.with_suffix(".md").write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
