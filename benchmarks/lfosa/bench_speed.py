"""Speed of LfOSA's query on a 50,000-sample pool, against the reference code's loop.

A pool of 50,000 vectors of 384 dimensions (the size of the paper's CIFAR
pools, the dimension of the sentence embeddings) from 50 Gaussian classes,
20 of them known; 8 % of each known class labeled and 1500 unknown samples
already in the invalid set. ``LfOSASampler().query(X, y, batch_size=1500)``
is timed whole, then its two parts apart on the trained detector:

- training: the detector's epochs (skorch's epoch durations);
- query step: the detector's logits on the pool (``_forward``, skorch's
  ``forward_iter``) plus the per-class mixtures and the ranking.

The query step is compared in the same run with the reference code's
(ningkp/LfOSA ``Sampling.AV_sampling``) way of doing it, written here from
its description: a Python loop over the samples building per-class lists,
one ``GaussianMixture`` per class with the same settings, ``np.vstack`` and a
full sort; its logits from a plain ``torch.no_grad()`` loop over batches of
the same size. The utilities of both are compared. Run from the repository
root::

    python benchmarks/lfosa/bench_speed.py --threads 2
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import add_output_arguments, render_only, results_header, run_record

from sklearn_openset.active_learning import LfOSASampler
from sklearn_openset.active_learning._lfosa import _GMM_PARAMS, _known_posteriors

N_SAMPLES, N_FEATURES, N_CLASSES, N_KNOWN = 50_000, 384, 50, 20


def make_pool(seed):
    X, y_true = make_blobs(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        centers=N_CLASSES,
        cluster_std=4.0,
        random_state=seed,
    )
    rng = np.random.RandomState(seed)
    y = np.full(N_SAMPLES, np.nan)
    for label in range(N_KNOWN):
        rows = np.flatnonzero(y_true == label)
        chosen = rng.choice(rows, size=round(0.08 * len(rows)), replace=False)
        y[chosen] = label
    unknown = np.flatnonzero(y_true >= N_KNOWN)
    y[rng.choice(unknown, size=1500, replace=False)] = -1
    return X.astype(np.float32), y


def reference_style_step(module, X, batch_size, seed):
    """Logits by a plain loop, then the reference code's per-sample loop."""
    with torch.no_grad():
        module.eval()
        logits = torch.cat(
            [
                module(torch.as_tensor(X[i : i + batch_size]))
                for i in range(0, len(X), batch_size)
            ]
        ).numpy()
    n_known = logits.shape[1] - 1
    values, predicted = logits.max(axis=1), logits.argmax(axis=1)
    per_class = {}
    for index in range(len(X)):
        per_class.setdefault(predicted[index], []).append([values[index], index])
    table = []
    for label, entries in per_class.items():
        entries = np.array(entries)
        if label == n_known or len(entries) < 2:
            continue
        mixture = GaussianMixture(random_state=seed, **_GMM_PARAMS)
        mixture.fit(entries[:, :1])
        proba = mixture.predict_proba(entries[:, :1])[:, mixture.means_.argmax()]
        table.append(np.hstack([proba[:, None], entries]))
    table = np.vstack(table)
    table = table[np.argsort(table[:, 0])]
    utilities = np.full(len(X), np.nan)
    utilities[table[:, 2].astype(int)] = table[:, 0]
    return utilities


def run(seed, repeats):
    X, y = make_pool(seed)
    sampler = LfOSASampler(random_state=seed)
    start = time.perf_counter()
    sampler.query(X, y, batch_size=1500)
    total = time.perf_counter() - start
    training = float(sum(sampler.net_.history[:, "dur"]))
    unlabeled = np.isnan(y)
    pool = X[unlabeled]
    library, reference = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        logits = sampler._forward(pool).numpy().astype(np.float64)
        ours = _known_posteriors(logits, np.random.RandomState(seed))
        library.append(time.perf_counter() - start)
        start = time.perf_counter()
        # The mixtures' seed that _known_posteriors draws from RandomState(seed).
        gmm_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max)
        theirs = reference_style_step(
            sampler.net_.module_, pool, sampler.train_batch_size, gmm_seed
        )
        reference.append(time.perf_counter() - start)
    known = ~np.isnan(theirs) & (ours >= 0) & (ours != 0.5)
    return {
        "n_pool": int(unlabeled.sum()),
        "n_train": int((~unlabeled).sum()),
        "query_total_s": total,
        "training_s": training,
        "query_step_s": float(np.median(library)),
        "reference_step_s": float(np.median(reference)),
        "max_utility_difference": float(np.max(np.abs(ours[known] - theirs[known]))),
        "repeats": repeats,
    }


def render(results):
    r = results["result"]
    lines = results_header(
        "LfOSA: query speed on a 50,000-sample pool",
        "benchmarks/lfosa/bench_speed.py",
        results["runs"],
        raw=results["output"] + ".json",
        about="setup in its docstring",
    )
    lines += [
        (
            f"Pool of {r['n_pool']} unlabeled 384-d vectors, detector trained on "
            f"{r['n_train']} labeled and invalid samples; median of {r['repeats']} "
            "repeats for the query step."
        ),
        "",
        "| part | seconds |",
        "|---|---|",
        f"| whole `query` (training + query step) | {r['query_total_s']:.2f} |",
        f"| detector training (epoch durations) | {r['training_s']:.2f} |",
        f"| query step: library (forward_iter + mixtures) | {r['query_step_s']:.3f} |",
        f"| query step: reference code's per-sample loop | {r['reference_step_s']:.3f} |",
        "",
        (
            f"The library's query step is {r['reference_step_s'] / r['query_step_s']:.2f}x "
            "faster than the reference code's way; largest difference of the "
            f"utilities of the samples both rank: {r['max_utility_difference']:.1e}. "
            "Target: query step at most 2 s on 2 cores."
        ),
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    add_output_arguments(parser, Path(__file__).with_name("results_speed"))
    args = parser.parse_args()
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    start = time.perf_counter()
    result = run(args.seed, args.repeats)
    output = Path(args.output)
    results = {"runs": [run_record(start)], "output": output.name, "result": result}
    print(json.dumps(result), flush=True)
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
