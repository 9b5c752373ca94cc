"""The CROSR paper's outlier protocol on MNIST (its Table 2), on the 5k subset.

Train on all 10 digits (the 5k subset of ``../shared/data/mnist``); test on
the 10k MNIST test images plus as many outliers, one kind at a time:

- "Noise": every pixel uniform in [0, 1];
- "MNIST-noise": the test images with that noise added, clipped to [0, 1].

Macro-F1 over 11 classes (the 10 digits and unknown), per seed, for five
detectors on one backbone, trained with the same optimizer, batches and
epochs:

- ``softmax``: a plain CNN (the DHRNet's encoder and classifier, without
  laterals and decoder) trained with cross-entropy; rejects a top softmax
  probability below 0.5 (the paper's Softmax);
- ``openmax``: ``OpenMaxClassifier("precomputed")`` with its defaults (tail
  20, alpha rank 10, eucos) on that plain CNN's logits;
- ``crosr``: ``CROSRClassifier(threshold=None)``, the paper's decision
  (the paper's DHRNet, classification + reconstruction 1.0 / 1.0, OpenMax on
  [logits, latent], tail 20, no rank calibration; OpenMax's own rule only);
- ``crosr (auto)``: the same trained DHRNet and detector with
  ``threshold="auto"``, the library's default (accept 95 % of the correctly
  classified training samples; ``fit_detector``);
- ``crosr-ocsvm``: the same trained DHRNet with
  ``detector=make_pipeline(StandardScaler(), OneClassSVM(nu=0.05))`` per
  class (``fit_detector``; nu 0.05 bounds the share of training samples the
  detector rejects, the library's 95 % acceptance).

It also times inference on the 10k test images (one network pass each: the
plain CNN's logits and CROSR's ``predict_open_proba``) and reports their
ratio. Run from the repository root::

    python benchmarks/crosr/bench_outliers.py --epochs 5 --seeds 0 1 2 --threads 2
"""

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import softmax as scipy_softmax
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import (
    CrossEntropyMSP,
    add_output_arguments,
    add_run_arguments,
    render_only,
    results_header,
    run_record,
)

from sklearn_openset import CROSRClassifier, OpenMaxClassifier
from sklearn_openset.datasets import load_mnist
from sklearn_openset.metrics import open_set_f1_score, unknown_roc_auc_score
from sklearn_openset.nn import DHRNet

METHODS = ("softmax", "openmax", "crosr", "crosr (auto)", "crosr-ocsvm")
OUTLIERS = ("noise", "mnist-noise")
PUBLISHED = {  # CROSR Table 2 (full MNIST, the paper's own plain CNN / DHRNet)
    "softmax": (0.826, 0.641),
    "openmax": (0.890, 0.720),
    "crosr": (0.826, 0.827),
    "crosr (auto)": None,
    "crosr-ocsvm": (0.979, 0.976),
}


def plain_cnn(n_classes=10):
    """The DHRNet's encoder and classifier alone: the same layers, no laterals."""
    dhrnet = DHRNet(n_classes)
    return nn.Sequential(*dhrnet.stages, dhrnet.head)


def outlier_sets(X_test, seed):
    rng = np.random.default_rng(seed)
    noise = rng.uniform(size=X_test.shape).astype(np.float32)
    mnist_noise = np.clip(X_test + rng.uniform(size=X_test.shape), 0, 1)
    return {"noise": noise, "mnist-noise": mnist_noise.astype(np.float32)}


def macro_f1(y_known, pred_known, pred_outliers):
    y_true = np.r_[y_known, np.full(len(pred_outliers), -1)]
    y_pred = np.r_[pred_known, pred_outliers]
    return open_set_f1_score(y_true, y_pred, labels=np.arange(10))


def auroc(known_scores, outlier_scores):
    y = np.r_[np.zeros(len(known_scores)), -np.ones(len(outlier_scores))]
    return unknown_roc_auc_score(y, np.r_[known_scores, outlier_scores])


def decisions(models, X):
    """``{method: (predictions, known-ness scores)}`` on ``X``, and the time of
    one network pass of the plain CNN and of CROSR.

    Each network runs once per method where the public outputs allow it: the
    softmax baseline's rule is applied to the plain CNN's logits (what
    ``CrossEntropyMSP(threshold=0.5).predict`` does), and CROSR's
    predictions come from ``predict_open_proba`` (OpenMax's own rule: the
    unknown class wins). :func:`check_decisions` checks both against the
    estimators' ``predict``.
    """
    softmax, openmax, crosr, crosr_auto, ocsvm = models
    start = time.perf_counter()
    logits = softmax._forward(softmax._validate_predict_data(X)).numpy()
    plain_seconds = time.perf_counter() - start
    proba = scipy_softmax(logits.astype(np.float64), axis=1)
    top = proba.max(axis=1)
    found = {
        "softmax": (np.where(top < 0.5, -1, proba.argmax(axis=1)), top),
        "openmax": (openmax.predict(logits), openmax.score_samples(logits)),
    }
    start = time.perf_counter()
    open_proba = crosr.predict_open_proba(X)
    crosr_seconds = time.perf_counter() - start
    unknown_wins = open_proba.argmax(axis=1) == open_proba.shape[1] - 1
    known_class = open_proba[:, :-1].argmax(axis=1)
    score = 1.0 - open_proba[:, -1]
    found["crosr"] = (np.where(unknown_wins, -1, known_class), score)
    auto_reject = unknown_wins | (score < crosr_auto.threshold_)
    found["crosr (auto)"] = (np.where(auto_reject, -1, known_class), score)
    score = ocsvm.score_samples(X)
    raw_logits = ocsvm.decision_function(X)
    found["crosr-ocsvm"] = (np.where(score < 0, -1, raw_logits.argmax(axis=1)), score)
    closed = {"plain CNN": logits.argmax(axis=1), "DHRNet": raw_logits.argmax(axis=1)}
    return found, closed, (plain_seconds, crosr_seconds)


def check_decisions(models, X):
    """The shortcuts of :func:`decisions` give the estimators' own ``predict``."""
    softmax, openmax, crosr, crosr_auto, ocsvm = models
    found, _, _ = decisions(models, X)
    logits = softmax._forward(softmax._validate_predict_data(X)).numpy()
    expected = {
        "softmax": softmax.predict(X),
        "openmax": openmax.predict(logits),
        "crosr": crosr.predict(X),
        "crosr (auto)": crosr_auto.predict(X),
        "crosr-ocsvm": ocsvm.predict(X),
    }
    for method, predictions in expected.items():
        np.testing.assert_array_equal(found[method][0], predictions, err_msg=method)


def run_seed(seed, epochs, X_train, y_train, X_test, y_test):
    outliers = outlier_sets(X_test, seed)
    training = {"max_epochs": epochs, "lr": 1e-3, "batch_size": 128}
    row = {"seed": seed, "f1": {}, "auroc": {}, "seconds": {}}

    start = time.perf_counter()
    softmax = CrossEntropyMSP(
        plain_cnn,
        threshold=0.5,
        lr_schedule=None,
        optimizer="adam",
        random_state=seed,
        **training,
    ).fit(X_train, y_train)
    row["seconds"]["fit plain CNN"] = time.perf_counter() - start
    start = time.perf_counter()
    crosr = CROSRClassifier(threshold=None, random_state=seed, **training)
    crosr.fit(X_train, y_train)
    row["seconds"]["fit CROSR"] = time.perf_counter() - start
    # The same trained DHRNet, other detectors or threshold: fit_detector only.
    crosr_auto = copy.deepcopy(crosr).set_params(threshold="auto")
    crosr_auto.fit_detector(X_train, y_train)
    ocsvm = copy.deepcopy(crosr).set_params(
        detector=make_pipeline(StandardScaler(), OneClassSVM(nu=0.05))
    )
    ocsvm.fit_detector(X_train, y_train)
    train_logits = softmax._forward(softmax._validate_predict_data(X_train)).numpy()
    openmax = OpenMaxClassifier("precomputed").fit(train_logits, y_train)
    models = (softmax, openmax, crosr, crosr_auto, ocsvm)
    check_decisions(models, X_test[:300])
    check_decisions(models, outliers["noise"][:300])

    known, closed, seconds = decisions(models, X_test)
    row["seconds"]["inference 10k, plain CNN"] = seconds[0]
    row["seconds"]["inference 10k, CROSR"] = seconds[1]
    row["closed_accuracy"] = {k: float(np.mean(v == y_test)) for k, v in closed.items()}
    for kind, X_out in outliers.items():
        found, _, _ = decisions(models, X_out)
        row["f1"][kind] = {
            m: macro_f1(y_test, known[m][0], found[m][0]) for m in METHODS
        }
        row["auroc"][kind] = {m: auroc(known[m][1], found[m][1]) for m in METHODS}
    return row


def render(results):
    rows = results["rows"]
    lines = results_header(
        "CROSR: MNIST with outliers (the CROSR paper's Table 2 protocol)",
        "benchmarks/crosr/bench_outliers.py",
        results["runs"],
        raw=results["output"] + ".json",
    )
    seeds = [r["seed"] for r in rows]
    lines += [
        (
            f"Macro-F1 over 11 classes (10 digits + unknown), mean ± std over seeds "
            f"{seeds}; {results['epochs']} epochs on the 5k training subset."
        ),
        "",
        "| method | Noise | MNIST-noise | published Noise | published MNIST-noise |",
        "|---|---|---|---|---|",
    ]
    for m in METHODS:
        cells = []
        for kind in OUTLIERS:
            values = [r["f1"][kind][m] for r in rows]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        pub = PUBLISHED[m] or ("-", "-")
        pub = [p if isinstance(p, str) else f"{p:.3f}" for p in pub]
        lines.append(f"| {m} | {cells[0]} | {cells[1]} | {pub[0]} | {pub[1]} |")
    lines += [
        "",
        "AUROC of `score_samples` (known test digits against the outliers):",
        "",
        "| method | Noise | MNIST-noise |",
        "|---|---|---|",
    ]
    # A threshold does not move score_samples: one AUROC row per model.
    for m in (m for m in METHODS if not m.endswith("(auto)")):
        cells = [
            f"{np.mean([r['auroc'][kind][m] for r in rows]):.4f}" for kind in OUTLIERS
        ]
        lines.append(f"| {m} | {cells[0]} | {cells[1]} |")
    accuracy = {
        k: np.mean([r["closed_accuracy"][k] for r in rows])
        for k in rows[0]["closed_accuracy"]
    }
    plain = np.mean([r["seconds"]["inference 10k, plain CNN"] for r in rows])
    crosr = np.mean([r["seconds"]["inference 10k, CROSR"] for r in rows])
    lines += [
        "",
        "- Closed-set accuracy on the 10k test digits: "
        + ", ".join(f"{k} {v:.4f}" for k, v in accuracy.items())
        + ".",
        (
            f"- Inference on the 10k test images (CPU, {results['threads']} torch "
            f"thread(s)): the plain CNN's logits {plain:.1f} s, CROSR's "
            f"`predict_open_proba` {crosr:.1f} s, ratio **{crosr / plain:.2f}** "
            "(the laterals and the OpenMax step; the decoder does not run; one "
            "pass each inside the run, so load changes weigh on it: "
            "`results_inference.md` measures the networks alone)."
        ),
        (
            "- The published numbers train on the full 60k MNIST with the paper's own "
            "training schedule; here the 5k subset, Adam (lr 1e-3, batches of 128) for "
            "the epochs above, identical for every method."
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    add_run_arguments(parser, seeds=[0, 1, 2])
    add_output_arguments(parser, Path(__file__).with_name("results_outliers"))
    args = parser.parse_args(argv)
    output = Path(args.output)
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    mnist = load_mnist(args.data_home)
    X_train = (mnist.X_train[:, None] / 255.0).astype(np.float32)
    X_test = (mnist.X_test[:, None] / 255.0).astype(np.float32)
    results = {
        "epochs": args.epochs,
        "threads": args.threads,
        "output": output.name,
        "rows": [],
        "runs": [],
    }
    for seed in args.seeds:
        row = run_seed(seed, args.epochs, X_train, mnist.y_train, X_test, mnist.y_test)
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
        results["runs"] = [run_record(start)]
        output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
