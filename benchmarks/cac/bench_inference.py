"""classifier32 inference on the 10k MNIST test images: float32 against float64.

One fitted ``CACClassifier`` (the paper's classifier32 with the weights that
the CAC reference code trained for trial 0, ``../shared/reference``), scored on
the 10k MNIST test images once with ``inference_dtype="float64"`` (how the
library inferred on CPU before) and once in the network's own precision
(float32, the default), in the same process, one after the other. Reported:
the wall time of ``score_samples`` for each, their ratio, the AUROC of each,
the largest difference between the two scores, and how much a sample's float32
score moves with its batch (200 images scored one by one against the same
images in the full batch), relative to the largest score magnitude.

The estimator is fitted for one epoch at ``lr=1e-12`` on the 5k subset's
known digits (the trained weights do not move; BatchNorm's running statistics
are re-estimated on these images), then the anchors are reset on the correctly
classified training images, as ``fit`` does.

Run from the repository root::

    python benchmarks/cac/bench_inference.py --threads 1
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import ROOT, add_output_arguments, render_only, results_header, run_record

from sklearn_openset import CACClassifier
from sklearn_openset.datasets import load_mnist
from sklearn_openset.metrics import unknown_roc_auc_score
from sklearn_openset.nn import Classifier32

HERE = Path(__file__).resolve().parent
REFERENCE = ROOT.parent / "shared" / "reference" / "cac-openset-mnist"


def reference_inputs(images, trial, config):
    """The reference's inputs: /255, bilinear 28 -> 32, standardized per trial."""
    x = torch.as_tensor(images, dtype=torch.float32)[:, None] / 255.0
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    mean = config["data_mean"][trial][0]
    std = config["data_std"][trial][0]
    return ((x - mean) / std).numpy()


def reference_backbone(trial, n_classes):
    state = torch.load(
        REFERENCE / f"MNIST_{trial}_CACclassifierAnchorLoss.pth",
        map_location="cpu",
        weights_only=False,
    )["net"]
    backbone = Classifier32(n_classes, in_channels=1, pooling="flatten")
    # The reference's encoder.encoder{1,2,3} and classify are the library's
    # group{1,2,3} and head, layer for layer (the checkpoint's other keys are
    # duplicates and buffers of its own).
    renamed = {
        key.replace("encoder.encoder", "group").replace("classify.", "head."): value
        for key, value in state.items()
        if key.startswith(("encoder.encoder", "classify."))
    }
    backbone.load_state_dict(renamed)
    return backbone


def timed_scores(clf, X, dtype):
    clf.set_params(inference_dtype=dtype)
    start = time.perf_counter()
    scores = clf.score_samples(X)
    return scores, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    add_output_arguments(parser, HERE / "results_inference")
    args = parser.parse_args()
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    start_run = time.perf_counter()

    config = json.loads((REFERENCE / "config_mnist.json").read_text())
    split = json.loads((REFERENCE / f"class_split_{args.trial}.json").read_text())
    known = sorted(split["Known"])
    mnist = load_mnist()
    train = np.isin(mnist.y_train, known)
    X_train = reference_inputs(mnist.X_train[train], args.trial, config)
    y_train = np.searchsorted(known, mnist.y_train[train])
    X_test = reference_inputs(mnist.X_test, args.trial, config)
    y_test = np.where(
        np.isin(mnist.y_test, known), np.searchsorted(known, mnist.y_test), -1
    )

    clf = CACClassifier(
        reference_backbone(args.trial, len(known)),
        max_epochs=1,
        lr=1e-12,
        optimizer="sgd",
        threshold=None,
        random_state=0,
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_time = time.perf_counter() - start

    rows = {}
    for dtype in ("float64", None):
        scores, seconds = timed_scores(clf, X_test, dtype)
        closed = clf.predict_proba(X_test[y_test != -1]).argmax(axis=1)
        rows[dtype or "float32"] = {
            "seconds": seconds,
            "auroc": unknown_roc_auc_score(y_test, scores),
            "closed_accuracy": float(np.mean(closed == y_test[y_test != -1])),
            "scores": scores,
        }
    f32, f64 = rows["float32"], rows["float64"]
    clf.set_params(inference_dtype=None)
    one_by_one = np.concatenate([clf.score_samples(x[None]) for x in X_test[:200]])
    batch_shift = np.abs(one_by_one - f32["scores"][:200]).max()
    scale = np.abs(f32["scores"]).max()
    result = {
        "trial": args.trial,
        "threads": args.threads,
        "fit_seconds": fit_time,
        "n_test": len(X_test),
        "float64": {k: v for k, v in f64.items() if k != "scores"},
        "float32": {k: v for k, v in f32.items() if k != "scores"},
        "speedup": f64["seconds"] / f32["seconds"],
        "auroc_difference": f32["auroc"] - f64["auroc"],
        "max_score_difference": float(np.abs(f32["scores"] - f64["scores"]).max()),
        "max_score_magnitude": float(scale),
        "batch_shift_relative": float(batch_shift / scale),
        "run": run_record(start_run),
    }
    Path(args.output + ".json").write_text(json.dumps(result, indent=1) + "\n")
    Path(args.output + ".md").write_text(render(result))
    print(render(result))


def render(r):
    f32, f64 = r["float32"], r["float64"]
    lines = results_header(
        "CACClassifier inference: float32 (default) against float64",
        "benchmarks/cac/bench_inference.py",
        [r["run"]],
        raw="results_inference.json",
    )
    lines += [
        "| inference | score_samples, 10k images (s) | images / s | AUROC | "
        "closed-set accuracy |",
        "|---|---|---|---|---|",
    ]
    for name, row in (
        ('float64 (`inference_dtype="float64"`, the former CPU default)', f64),
        ("float32 (the network's own precision, the default)", f32),
    ):
        lines.append(
            f"| {name} | {row['seconds']:.1f} | {r['n_test'] / row['seconds']:.0f} "
            f"| {row['auroc']:.4f} | {row['closed_accuracy']:.4f} |"
        )
    lines += [
        "",
        f"- float32 is **{r['speedup']:.2f} times** faster; the AUROC differs by "
        f"{r['auroc_difference']:+.6f} (target: at least 3 times, within 0.0005).",
        "- Largest difference between a float32 and a float64 score: "
        f"{r['max_score_difference']:.2e} (scores up to "
        f"{r['max_score_magnitude']:.1f} in magnitude).",
        "- Batch dependence in float32: 200 images scored one by one move by at "
        f"most {r['batch_shift_relative']:.1e} of the largest score magnitude "
        "against the same images in one batch (the library's bound, "
        "`BATCH_TOLERANCE`, is 1e-4).",
        f"- Network: classifier32 with the CAC reference code's weights for trial "
        f"{r['trial']} (`shared/reference/cac-openset-mnist`, inputs as the "
        "reference feeds them), fitted one epoch at lr 1e-12 on the 5k subset's "
        f"known digits ({r['fit_seconds']:.0f} s) so that the BatchNorm statistics, "
        f"anchors and threshold are the library's; {r['threads']} torch thread(s).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
