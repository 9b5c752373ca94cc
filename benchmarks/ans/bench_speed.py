"""Speed of ANS and of TextEmbedder on CLINC150.

1. ``ANSOneVsRestClassifier().fit`` on the 112-class (75 % known) CLINC150
   training embeddings (all-MiniLM-L6-v2, frozen), with the time of the heads
   (synthesis included) reported apart from the known-class classifier,
   against the plain-torch equivalent of the paper's way of training them:
   one head after another, each with its own optimizer, the same number of
   steps and the same samples per step as in the estimator (positives, real
   negatives, ``n_synthetic`` noise negatives per positive projected onto
   the shell), in the same run.
2. ``TextEmbedder().transform`` throughput on the CLINC150 training sentences,
   against calling the transformers model directly (``AutoTokenizer`` with
   ``padding=True`` on batches in the input order, ``AutoModel``, mean pooling,
   normalisation) in the same run, alternating the two to share the machine's
   conditions.

Run from the repository root::

    python benchmarks/ans/bench_speed.py

It writes ``results_speed.md`` next to this file (the training embeddings
come from the cache of ``benchmarks/_common.py``).
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import frozen_embeddings, results_header, run_record

from sklearn_openset import ANSOneVsRestClassifier
from sklearn_openset.datasets import load_clinc150
from sklearn_openset.feature_extraction import TextEmbedder, default_model_path

HERE = Path(__file__).resolve().parent


def direct_embeddings(tokenizer, model, texts, batch_size):
    """The plain transformers recipe: batches in input order, mean pooling."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"][..., None].to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.vstack(out)


def heads_one_after_another(X, y, clf, seed):
    """Train the C heads of ``clf``'s configuration one after another (plain torch).

    The same work per head as one step of the estimator does for all heads
    at once: ``batch_size`` positives, ``negative_ratio`` times as many real
    negatives drawn from the other classes, ``n_synthetic`` Gaussian-noise
    negatives per positive projected onto the shell ``[r_c, gamma r_c]``, the
    loss ``L_rest + lambda L_syn`` and an Adam step, for as many steps as the
    estimator takes. Returns the wall time in seconds.
    """
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    scale = X.std(axis=0)
    scale[scale == 0] = 1  # constant features stay as they are, as in the estimator
    Z = (X - X.mean(axis=0)) / scale
    classes = np.unique(y)
    m = clf.batch_size
    n_neg = clf.negative_ratio * m
    n_syn = clf.n_synthetic
    steps = math.ceil(len(y) / (len(classes) * m)) * clf.max_epochs
    Z_t = torch.as_tensor(Z, dtype=torch.float32)
    start = time.perf_counter()
    for c in classes:
        own = np.flatnonzero(y == c)
        others = np.flatnonzero(y != c)
        variances = Z[own].var(axis=0)
        radius = float(np.sqrt(2.0 * variances.sum())) * clf.radius_factor
        noise_std = torch.as_tensor(
            2.0 * np.sqrt(variances) * clf.radius_factor, dtype=torch.float32
        )
        layers, width = [], Z.shape[1]
        for hidden in clf.head_hidden_layer_sizes:
            layers += [
                torch.nn.Linear(width, hidden),
                torch.nn.ReLU(),
                torch.nn.Dropout(clf.head_dropout),
            ]
            width = hidden
        head = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
        optimizer = torch.optim.Adam(head.parameters(), lr=clf.lr)
        for _ in range(steps):
            positives = Z_t[generator.choice(own, m)]
            negatives = Z_t[generator.choice(others, n_neg)]
            anchors = positives.repeat(n_syn, 1)
            offset = torch.randn_like(anchors) * noise_std
            norm = offset.norm(dim=1, keepdim=True).clamp_min(1e-12)
            offset = offset * (norm.clamp(radius, clf.gamma * radius) / norm)
            logits = head(torch.cat([positives, negatives, anchors + offset]))[:, 0]
            loss = (
                F.softplus(-logits[:m]).mean()
                + F.softplus(logits[m : m + n_neg]).mean()
                + clf.synthetic_weight * F.softplus(logits[m + n_neg :]).mean()
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--n-sentences",
        type=int,
        default=None,
        help="embed only the first N training sentences",
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-ans", action="store_true")
    parser.add_argument("--skip-embedder", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    wall_start = time.perf_counter()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = []
    raw = load_clinc150()

    if not args.skip_ans:
        X_all = frozen_embeddings(raw.text_train)
        split = load_clinc150(known_ratio=0.75, random_state=0)
        known = np.isin(raw.y_train, split.known_classes)
        X, y = X_all[known], raw.y_train[known]
        rows = []
        for repeat in range(args.repeats):
            clf = ANSOneVsRestClassifier(random_state=repeat)
            start, cpu_start = time.perf_counter(), time.process_time()
            clf.fit(X, y)
            total = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            # skorch's per-epoch durations: the training steps (classifier and
            # heads, optimizer, batches), without the set-up before and after.
            steps = float(sum(clf.net_.history[:, "dur"]))
            rows.append((total, steps, cpu))
            print(
                f"ANS fit {total:.1f} s (training steps {steps:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
        rows = np.array(rows)
        sequential = []
        for repeat in range(args.repeats):
            sequential.append(heads_one_after_another(X, y, clf, seed=repeat))
            print(
                f"heads one after another {sequential[-1]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        sequential = np.array(sequential)
        lines += [
            (
                "## ANS fit, 75 % known (112 classes, "
                f"{X.shape[0]} x {X.shape[1]} embeddings)"
            ),
            "",
            (
                f"`ANSOneVsRestClassifier(random_state=r).fit`, defaults "
                f"(max_epochs={clf.max_epochs}, batch_size={clf.batch_size} per class, "
                f"negative_ratio={clf.negative_ratio}, heads "
                f"{clf.head_hidden_layer_sizes}, "
                f'negative_synthesis="{clf.negative_synthesis}"), {args.repeats} runs '
                "(the first one in the process also pays torch's one-time imports "
                "of its first optimizer step, about 2 s):"
            ),
            "",
            "| | mean (s) | min (s) | max (s) |",
            "|---|---|---|---|",
        ]
        for name, column in (
            ("whole fit", 0),
            ("whole fit, CPU time of the process", 2),
            ("training steps (skorch's epoch durations)", 1),
            ("plain torch: the heads one after another (whole training)", None),
        ):
            values = sequential if column is None else rows[:, column]
            lines.append(
                f"| {name} | {values.mean():.1f} | {values.min():.1f} | "
                f"{values.max():.1f} |"
            )
        lines += [
            "",
            (
                "The training steps are the known-class classifier and the heads "
                "(synthesis, forward, one backward), the fused Adam steps and the "
                "batches; the rest of the fit is the class statistics and the "
                "net's set-up. The estimator keeps no per-part clock (it would "
                "synchronize a GPU every step). Wall times include the waits "
                "for the cores that other jobs held; the CPU time is the work of "
                "this process (with one thread, what the fit costs on an idle core)."
            ),
            "",
            (
                "Plain torch, one head after another (as the paper trains them): "
                "each head its own MLP and Adam optimizer, the estimator's number of "
                f"steps ({clf.max_epochs} epochs), {clf.batch_size} positives, "
                f"{clf.negative_ratio * clf.batch_size} real negatives and "
                f"{clf.n_synthetic * clf.batch_size} noise negatives projected onto "
                "the shell per step; no known-class classifier, no skorch. Its time "
                "over the estimator's whole fit (mean over the runs): "
                f"**{sequential.mean() / rows[:, 0].mean():.2f}**."
            ),
            "",
        ]

    if not args.skip_embedder:
        from transformers import AutoModel, AutoTokenizer

        texts = raw.text_train[: args.n_sentences]
        path = default_model_path()
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path).eval()
        embedder = TextEmbedder(batch_size=64).fit(texts[:1])
        times = {"TextEmbedder.transform": [], "direct transformers call": []}
        for repeat in range(args.repeats):
            start = time.perf_counter()
            ours = embedder.transform(texts)
            times["TextEmbedder.transform"].append(time.perf_counter() - start)
            start = time.perf_counter()
            theirs = direct_embeddings(tokenizer, model, texts, 64)
            times["direct transformers call"].append(time.perf_counter() - start)
            print({k: v[-1] for k, v in times.items()}, file=sys.stderr, flush=True)
        max_diff = float(np.abs(ours - theirs).max())
        lines += [
            f"## TextEmbedder throughput ({len(texts)} CLINC150 training sentences)",
            "",
            (
                "all-MiniLM-L6-v2, batches of 64, max_length 128, mean pooling, "
                f"normalised; {args.repeats} alternating runs each, best run:"
            ),
            "",
            "| | best (s) | sentences / s |",
            "|---|---|---|",
        ]
        best = {k: min(v) for k, v in times.items()}
        for name, value in best.items():
            lines.append(f"| {name} | {value:.1f} | {len(texts) / value:.0f} |")
        ratio = best["direct transformers call"] / best["TextEmbedder.transform"]
        lines += [
            "",
            (
                f"Throughput ratio TextEmbedder / direct: **{ratio:.2f}** (the embedder "
                "sorts the sentences by length, so its batches carry less padding). "
                f"Largest difference between the two embeddings: {max_diff:.1e}."
            ),
            "",
        ]
    header = results_header(
        "ANS and TextEmbedder speed on CLINC150",
        "benchmarks/ans/bench_speed.py",
        [run_record(wall_start)],
    )
    header += [
        f"The machine is shared with other jobs (load average at start: {load}).",
        "",
    ]
    lines = header + lines
    (HERE / "results_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
