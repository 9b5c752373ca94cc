"""Open-set annotation campaigns, the LfOSA paper's protocol on CLINC150 and MNIST.

Pools (``../shared/data``):

- ``clinc<r>``: the 15,000 CLINC150 training utterances (150 intents, 100
  each) as frozen all-MiniLM-L6-v2 embeddings; ``r`` % of the intents known
  (30 / 45 / 60 of 150), the others unknown. Test: the in-scope test rows of
  the known intents.
- ``mnist<r>``: the 5000-image MNIST training subset (500 per digit), pixels
  scaled to [0, 1] and flattened; ``r`` % of the digits known (2 / 3 / 4).
  Test: the known digits of the 10,000 test images.

The known classes are drawn per seed (``select_known_classes``, the papers'
``np.random.seed(seed); np.random.choice``). As in the paper: 8 % of each
known class labeled at the start, 10 cycles, queries of 3 % of the pool (the
paper's 1500 of 50,000: 450 on CLINC, 150 on MNIST). Every strategy has the
library's defaults:

- ``lfosa``: ``LfOSASampler()`` (its MLP detector, temperature 0.5);
- ``random``: ``RandomSampler()``;
- ``uncertainty`` / ``certainty``: ``UncertaintySampler()`` /
  ``CertaintySampler()`` (a StandardScaler + LogisticRegression fitted on the
  labeled and the invalid samples);
- ``openmax-score``: ``OpenSetScoreSampler()`` (OpenMax over that pipeline,
  fitted on the labeled samples, ranking by its ``logsumexp`` known score).

The classifier whose accuracy is reported is the same StandardScaler +
LogisticRegression pipeline for every strategy (the simulation's default).
``--ablation`` adds the paper's Figure 9 variants of LfOSA (temperature 1 and
2, no invalid set) and ``openmax-probability``, the open-set baseline ranking
by OpenMax's default known score (one minus the unknown probability). Run from the repository root::

    python benchmarks/lfosa/bench_pools.py --seeds 0 1 2 3 --threads 1
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

from _common import (
    ROOT,
    add_output_arguments,
    add_run_arguments,
    frozen_embeddings,
    render_only,
    results_header,
    run_record,
)

from sklearn_openset import OpenMaxClassifier
from sklearn_openset.active_learning import (
    CertaintySampler,
    LfOSASampler,
    OpenSetScoreSampler,
    RandomSampler,
    UncertaintySampler,
    simulate_annotation,
)
from sklearn_openset.active_learning._baselines import _default_classifier
from sklearn_openset.datasets import load_clinc150, load_mnist, select_known_classes

POOLS = ("clinc20", "clinc30", "clinc40", "mnist20", "mnist30", "mnist40")
STRATEGIES = ("lfosa", "random", "uncertainty", "certainty", "openmax-score")
ABLATION = ("lfosa T=1", "lfosa T=2", "lfosa no invalid", "openmax-probability")
PUBLISHED = {  # CIFAR100, 20 % known: final recall, mean precision, final accuracy
    "lfosa": (0.671, 0.394, 0.554),
    "random": (0.328, 0.165, 0.360),
    "uncertainty": (0.293, 0.142, 0.327),
}


def strategy(name, seed):
    return {
        "lfosa": lambda: LfOSASampler(random_state=seed),
        "lfosa T=1": lambda: LfOSASampler(temperature=1.0, random_state=seed),
        "lfosa T=2": lambda: LfOSASampler(temperature=2.0, random_state=seed),
        "lfosa no invalid": lambda: LfOSASampler(use_invalid=False, random_state=seed),
        "random": lambda: RandomSampler(random_state=seed),
        "uncertainty": lambda: UncertaintySampler(random_state=seed),
        "certainty": lambda: CertaintySampler(random_state=seed),
        "openmax-score": lambda: OpenSetScoreSampler(random_state=seed),
        "openmax-probability": lambda: OpenSetScoreSampler(
            OpenMaxClassifier(_default_classifier()), random_state=seed
        ),
    }[name]()


def load_pool(name, data_home):
    """``(X, y, X_test, y_test)`` of a pool, every class labeled."""
    if name.startswith("clinc"):
        raw = load_clinc150(data_home)
        keep = raw.y_test != "oos"
        test_texts = [t for t, k in zip(raw.text_test, keep, strict=True) if k]
        texts = list(dict.fromkeys(raw.text_train + test_texts))
        table = dict(zip(texts, frozen_embeddings(texts), strict=True))
        X = np.vstack([table[t] for t in raw.text_train])
        X_test = np.vstack([table[t] for t in test_texts])
        return X, raw.y_train, X_test, raw.y_test[keep]
    mnist = load_mnist(data_home)
    flat = [
        (x.reshape(len(x), -1) / 255.0).astype(np.float32)
        for x in (mnist.X_train, mnist.X_test)
    ]
    return flat[0], mnist.y_train, flat[1], mnist.y_test


def run(pools, strategies, seeds, n_cycles, data_home, previous):
    done = {(r["pool"], r["strategy"], r["seed"]) for r in previous}
    rows = list(previous)
    for pool in pools:
        X, y, X_test, y_test = load_pool(pool, data_home)
        ratio = int(pool[-2:]) / 100
        for seed in seeds:
            known = select_known_classes(y, known_ratio=ratio, random_state=seed)
            for name in strategies:
                if (pool, name, seed) in done:
                    continue
                start = time.perf_counter()
                result = simulate_annotation(
                    strategy(name, seed),
                    X,
                    y,
                    known,
                    X_test=X_test,
                    y_test=y_test,
                    n_cycles=n_cycles,
                    random_state=seed,
                )
                row = {
                    "pool": pool,
                    "strategy": name,
                    "seed": seed,
                    "n_known_classes": len(known),
                    "recall": result.recall.tolist(),
                    "precision": result.precision.tolist(),
                    "accuracy": result.accuracy.tolist(),
                    "query_seconds": result.query_seconds.tolist(),
                    "seconds": time.perf_counter() - start,
                }
                print(
                    json.dumps({k: v for k, v in row.items() if k != "query_seconds"}),
                    flush=True,
                )
                rows.append(row)
                yield rows


def summary(rows, pool, name):
    runs = [r for r in rows if r["pool"] == pool and r["strategy"] == name]
    if not runs:
        return None
    recall = np.array([r["recall"] for r in runs])
    precision = np.array([r["precision"] for r in runs])
    accuracy = np.array([r["accuracy"] for r in runs])
    return {
        "n": len(runs),
        "recall": recall[:, -1].mean(),
        "recall_std": recall[:, -1].std(),
        "precision": precision.mean(axis=1).mean(),
        "precision_std": precision.mean(axis=1).std(),
        "accuracy": accuracy[:, -1].mean(),
        "curve": recall.mean(axis=0),
        "query_s": np.mean([np.mean(r["query_seconds"]) for r in runs]),
    }


def render(results):
    rows = results["rows"]
    pools = [p for p in POOLS if any(r["pool"] == p for r in rows)]
    names = [n for n in STRATEGIES + ABLATION if any(r["strategy"] == n for r in rows)]
    seeds = sorted({r["seed"] for r in rows})
    lines = results_header(
        "LfOSA: open-set annotation on CLINC150 and MNIST pools",
        "benchmarks/lfosa/bench_pools.py",
        results["runs"],
        raw=results["output"] + ".json",
        about="protocol in its docstring",
    )
    lines += [
        (
            f"After 10 cycles, mean ± std over seeds {seeds}: recall (Eq. 1), mean "
            "precision over the cycles (Eq. 2), accuracy of the classifier on the "
            "known-class test samples at the last cycle, and the mean time of one "
            "query (training of the strategy's own model included). Bold: the best "
            "recall of the five strategies on each pool."
        ),
        "",
        (
            "| pool | strategy | recall | mean precision | accuracy | query (s) "
            "| recall / random | precision / random |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for pool in pools:
        base = summary(rows, pool, "random")
        found = {n: summary(rows, pool, n) for n in names}
        best = max(
            (n for n in STRATEGIES if found.get(n)), key=lambda n: found[n]["recall"]
        )
        for name in names:
            s = found[name]
            if s is None:
                continue
            recall = f"{s['recall']:.3f} ± {s['recall_std']:.3f}"
            if name == best:
                recall = f"**{recall}**"
            ratios = ("", "")
            if base is not None:
                ratios = (
                    f"{s['recall'] / base['recall']:.2f}x",
                    f"{s['precision'] / base['precision']:.2f}x",
                )
            lines.append(
                f"| {pool} | {name} | {recall} | {s['precision']:.3f} ± "
                f"{s['precision_std']:.3f} | {s['accuracy']:.3f} | {s['query_s']:.2f} "
                f"| {ratios[0]} | {ratios[1]} |"
            )
    lines += ["", "Recall per cycle (mean over seeds):", ""]
    lines += ["| pool | strategy | " + " | ".join(str(c) for c in range(1, 11)) + " |"]
    lines += ["|---|---|" + "---|" * 10]
    for pool in pools:
        for name in names:
            s = summary(rows, pool, name)
            if s is not None:
                cells = " | ".join(f"{v:.3f}" for v in s["curve"])
                lines.append(f"| {pool} | {name} | {cells} |")
    lines += [
        "",
        (
            "Published (CIFAR100, 20 % known, ResNet-18, 4 seeds): LfOSA recall "
            "0.671, mean precision 0.394, accuracy 55.4 %; random 0.328 / 0.165 / "
            "36.0 %; uncertainty 0.293 / 0.142 / 32.7 %."
        ),
        "",
    ]
    notes = results.get("notes")
    if notes:
        lines += [notes, ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(parser, seeds=(0, 1, 2, 3))
    add_output_arguments(parser, Path(__file__).with_name("results_pools"))
    parser.add_argument("--pools", nargs="+", default=list(POOLS), choices=POOLS)
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=list(STRATEGIES),
        choices=STRATEGIES + ABLATION,
    )
    parser.add_argument("--ablation", action="store_true", help="add LfOSA's variants")
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows of --output's JSON"
    )
    args = parser.parse_args()
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    data_home = args.data_home or ROOT.parent / "shared" / "data"
    output = Path(args.output)
    previous, runs = [], []
    if args.resume and output.with_suffix(".json").exists():
        old = json.loads(output.with_suffix(".json").read_text())
        previous, runs = old["rows"], old["runs"]
    strategies = list(args.strategies) + (list(ABLATION) if args.ablation else [])
    start = time.perf_counter()
    rows = previous
    for rows in run(
        args.pools, strategies, args.seeds, args.cycles, data_home, previous
    ):
        results = {
            "runs": [*runs, run_record(start)],
            "output": output.name,
            "rows": rows,
        }
        output.with_suffix(".json").write_text(json.dumps(results, indent=1))
        output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
