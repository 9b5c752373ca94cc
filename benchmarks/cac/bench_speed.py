"""Training epoch time of CACClassifier against a plain torch loop.

The same module (same initial weights), the same data, batch size (128),
optimizer (SGD, lr 0.01, momentum 0.9), loss (``CACLoss``) and step schedule,
on one CPU thread. "Ours" is ``CACClassifier(module=...).fit`` (skorch, its
callbacks, history and the batch iterator); "plain" is the loop a torch user
writes (``_plain``): per epoch, a random order of the samples, then for each
batch of 128 ``zero_grad``, the loss of the module's outputs, ``backward``,
an optimizer step and the loss summed as a float; a scheduler step at the
end of the epoch.

An epoch of ours is the wall time between the starts of two consecutive
epochs (every callback included; the last one ends at ``on_train_end``); the
anchor reset and threshold calibration after training are not training
epochs and are timed apart (``post_training_s``). The two are run in
alternation, ``--repeats`` times each, and the median epoch time over all
runs (first epoch of each run left out) is compared.

Settings (MNIST trial 0 of the CAC protocol: the 3000 training images of the
digits 0, 1, 2, 4, 5, 9):

* ``mlp``: the default MLP (784 -> 256 -> 128 -> 6) on the flattened pixels;
* ``small-cnn``: the small CNN of ``bench_quality.py`` on (n, 1, 28, 28);
* ``classifier32``: CACClassifier's default CNN for images (classifier32 with
  the reference code's flattened head), on 640 of the images
  (5 batches per epoch: one epoch of the 3000 images takes 1.5 minutes).

Run from the repository root::

    python benchmarks/cac/bench_speed.py

It writes ``results_speed.md`` and ``results_speed.json`` next to this file;
``--report-only`` rewrites the markdown from the JSON.
"""

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import results_header, run_record, small_cnn

from sklearn_openset import CACClassifier
from sklearn_openset.evaluation import load_class_split_trial
from sklearn_openset.nn import MLP, CACLoss, CACNet, Classifier32

HERE = Path(__file__).resolve().parent


class _WallClock(Callback):
    def initialize(self):
        self.marks = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.marks.append(time.perf_counter())

    def on_train_end(self, net, **kwargs):
        self.marks.append(time.perf_counter())


def _ours(module, X, y, n_epochs):
    clock = _WallClock()
    clf = CACClassifier(
        copy.deepcopy(module),
        max_epochs=n_epochs,
        lr_schedule="step",  # as the plain loop's StepLR below
        callbacks=[("clock", clock)],
        random_state=0,
    )
    clf.fit(X, y)
    end = time.perf_counter()
    marks = dict(clf.net_.callbacks_)["clock"].marks
    return np.diff(marks), end - marks[-1]


def _plain(module, X, y, n_epochs, batch_size=128):
    module = CACNet(copy.deepcopy(module), int(y.max()) + 1)
    criterion = CACLoss()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=math.ceil(n_epochs / 2), gamma=0.1
    )
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    n = len(X)
    times = []
    for _ in range(n_epochs):
        start = time.perf_counter()
        module.train()
        order = torch.randperm(n)
        total = 0.0
        for first in range(0, n, batch_size):
            rows = order[first : first + batch_size]
            optimizer.zero_grad()
            loss = criterion(module(X[rows])[1], y[rows])
            loss.backward()
            optimizer.step()
            total += loss.item()
        scheduler.step()
        times.append(time.perf_counter() - start)
    return np.array(times)


def _setting(name):
    images = name != "mlp"
    X, _, y, _ = load_class_split_trial(0, "mnist", images=images, dtype=np.float32)
    y = np.unique(y, return_inverse=True)[1].astype(np.int64)
    torch.manual_seed(0)
    if name == "mlp":
        module = MLP(X.shape[1], 6)
    elif name == "small-cnn":
        module = small_cnn(6)
    else:
        # The training images are sorted by digit: a random subset keeps
        # the 6 classes.
        rows = np.random.RandomState(0).permutation(len(X))[:640]
        X, y = X[rows], y[rows]
        module = Classifier32(6, in_channels=1, pooling="flatten")
    return np.ascontiguousarray(X, dtype=np.float32), y, module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--settings", default="mlp,small-cnn,classifier32", help="comma-separated"
    )
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run")
    parser.add_argument(
        "--classifier32-epochs", type=int, default=3, help="epochs per classifier32 run"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the markdown from the JSON"
    )
    args = parser.parse_args()
    if args.report_only:
        write_report(json.loads((HERE / "results_speed.json").read_text()))
        return
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    results = {}
    for name in args.settings.split(","):
        X, y, module = _setting(name)
        n_epochs = args.classifier32_epochs if name == "classifier32" else args.epochs
        ours, plain, post = [], [], []
        for _ in range(args.repeats):
            epochs, post_s = _ours(module, X, y, n_epochs)
            ours.append(epochs[1:])
            post.append(post_s)
            plain.append(_plain(module, X, y, n_epochs)[1:])
        ours, plain = np.concatenate(ours), np.concatenate(plain)
        results[name] = {
            "n_samples": len(X),
            "epochs_per_run": n_epochs,
            "ours_epoch_s": float(np.median(ours)),
            "plain_epoch_s": float(np.median(plain)),
            "ratio": float(np.median(ours) / np.median(plain)),
            "ours_epoch_s_all": ours.tolist(),
            "plain_epoch_s_all": plain.tolist(),
            "post_training_s": float(np.median(post)),
        }
        print(
            name, {k: v for k, v in results[name].items() if "all" not in k}, flush=True
        )
    meta = {**run_record(started), "repeats": args.repeats}
    record = {"meta": meta, "results": results}
    (HERE / "results_speed.json").write_text(json.dumps(record, indent=2) + "\n")
    write_report(record)


def write_report(record):
    meta, results = record["meta"], record["results"]
    lines = results_header(
        "CACClassifier: training epoch time against a plain torch loop",
        "benchmarks/cac/bench_speed.py",
        [meta],
        raw="results_speed.json",
        about="its docstring describes both loops",
    )
    lines += [
        (
            f"{meta['repeats']} runs of each (epochs per run in the table), "
            "alternating ours and plain; median epoch time, the first epoch of "
            "each run left out. The machine is shared with other work running "
            "at the same time: compare the ratios of one run, not absolute times "
            "across runs."
        ),
        "",
        (
            "| setting | samples | epochs per run | ours (s / epoch) | "
            "plain torch (s / epoch) | ratio | after training (s) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['n_samples']} | {r['epochs_per_run']} | "
            f"{r['ours_epoch_s']:.4f} | {r['plain_epoch_s']:.4f} | {r['ratio']:.3f} "
            f"| {r['post_training_s']:.2f} |"
        )
    lines += [
        "",
        (
            '"After training" is the anchor reset and threshold calibration of '
            "`fit`: one float64 forward pass over the training data."
        ),
        "",
    ]
    (HERE / "results_speed.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
