"""Wall time of fitting the default text pipeline on CLINC150.

``make_pipeline(TextEmbedder(random_state=seed),
ANSOneVsRestClassifier(random_state=seed)).fit(texts, y)`` on the training
sentences of the known intents of ``load_clinc150(known_ratio=ratio,
random_state=seed)`` (75 %: 112 intents, 11,200 sentences), timed as a whole
and by part: the encoder's fine-tuning, the embedding of the training
sentences (``Pipeline`` calls ``fit_transform``) and ANS's fit. Nothing is
cached. Run from the repository root::

    python benchmarks/ans/bench_pipeline_fit.py --ratio 0.75 --threads 2
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import (
    add_output_arguments,
    render_only,
    results_header,
    run_record,
)

from sklearn_openset import ANSOneVsRestClassifier
from sklearn_openset.datasets import load_clinc150
from sklearn_openset.feature_extraction import TextEmbedder


class _TimedEmbedder(TextEmbedder):
    """TextEmbedder that records the seconds of its fit and of its transform."""

    def fit(self, X, y=None):
        start = time.perf_counter()
        super().fit(X, y)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def transform(self, X):
        start = time.perf_counter()
        out = super().transform(X)
        self.transform_seconds_ = time.perf_counter() - start
        return out


def run(ratio, seed):
    data = load_clinc150(known_ratio=ratio, random_state=seed)
    embedder = _TimedEmbedder(random_state=seed)
    model = make_pipeline(embedder, ANSOneVsRestClassifier(random_state=seed))
    start = time.perf_counter()
    model.fit(data.text_train, data.y_train)
    total = time.perf_counter() - start
    return {
        "ratio": ratio,
        "seed": seed,
        "n_classes": len(data.known_classes),
        "n_texts": len(data.text_train),
        "fine_tuned": bool(embedder.fine_tuned_),
        "total_s": total,
        "embedder_fit_s": embedder.fit_seconds_,
        "embed_s": embedder.transform_seconds_,
        "ans_fit_s": total - embedder.fit_seconds_ - embedder.transform_seconds_,
    }


def render(results):
    lines = results_header(
        "Fitting the default text pipeline on CLINC150",
        "benchmarks/ans/bench_pipeline_fit.py",
        results["runs"],
        raw=results["output"] + ".json",
    )
    lines += [
        (
            "| known | intents | sentences | fit, total | encoder fit (fine-tuning) "
            "| embedding | ANS fit |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['ratio']:.0%} (seed {row['seed']}) | {row['n_classes']} | "
            f"{row['n_texts']} | {row['total_s']:.0f} s | "
            f"{row['embedder_fit_s']:.0f} s | {row['embed_s']:.0f} s | "
            f"{row['ans_fit_s']:.0f} s |"
        )
    lines.append("")
    if results.get("notes"):
        lines += [results["notes"], ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratio", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    add_output_arguments(parser, Path(__file__).with_name("results_pipeline_fit"))
    args = parser.parse_args(argv)
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    start = time.perf_counter()
    row = run(args.ratio, args.seed)
    print(json.dumps(row), flush=True)
    output = Path(args.output)
    results = {
        "output": output.name,
        "rows": [row],
        "runs": [run_record(start)],
    }
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
