"""Wall time of fitting the default text pipeline on CLINC150.

``make_pipeline(TextEmbedder(random_state=seed),
ANSOneVsRestClassifier(random_state=seed)).fit(texts, y)`` on the training
sentences of the known intents of ``load_clinc150(known_ratio=ratio,
random_state=seed)`` (75 %: 112 intents, 11,200 sentences), timed as a whole
and by part: the encoder's fine-tuning, the embedding of the training
sentences (``Pipeline`` calls ``fit_transform``) and ANS's fit. Nothing is
cached. The fitted pipeline is then scored on the test sentences (macro-F1
over the known intents and the open class, AUROC of detecting the unknown
ones, in %), so that a faster fit can be checked to fit the same model. Run
from the repository root::

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
from sklearn_openset.evaluation import evaluate_predictions
from sklearn_openset.feature_extraction import TextEmbedder


class _TimedEmbedder(TextEmbedder):
    """TextEmbedder that records the seconds of its fit and of its fit_transform.

    ``Pipeline.fit`` calls ``fit_transform``; the fit proper (loading and
    fine-tuning) is its private ``_fit``, the rest is the embedding of the
    training texts.
    """

    def _fit(self, texts, y):
        start = time.perf_counter()
        lower_states = super()._fit(texts, y)
        self.fit_seconds_ = time.perf_counter() - start
        return lower_states

    def fit_transform(self, X, y=None):
        start = time.perf_counter()
        out = super().fit_transform(X, y)
        self.transform_seconds_ = time.perf_counter() - start - self.fit_seconds_
        return out


def run(ratio, seed):
    data = load_clinc150(known_ratio=ratio, random_state=seed)
    embedder = _TimedEmbedder(random_state=seed)
    model = make_pipeline(embedder, ANSOneVsRestClassifier(random_state=seed))
    start = time.perf_counter()
    model.fit(data.text_train, data.y_train)
    total = time.perf_counter() - start
    X_test = embedder.transform(data.text_test)
    ans = model[-1]
    metrics = evaluate_predictions(
        data.y_test,
        ans.predict(X_test),
        ans.score_samples(X_test),
        ans.classes_[ans.predict_proba(X_test).argmax(axis=1)],
        labels=ans.classes_,
    )
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
        "macro_f1": 100 * metrics["macro_f1"],
        "auroc": 100 * metrics["auroc"],
    }


def _repeat(row):
    return f", fit {row['repeat'] + 1}" if "repeat" in row else ""


def _percent(row, key):
    return f"{row[key]:.2f}" if key in row else "not measured"


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
            "| embedding | ANS fit | test macro-F1 | test AUROC |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['ratio']:.0%} (seed {row['seed']}"
            f"{_repeat(row)}) | {row['n_classes']} | "
            f"{row['n_texts']} | {row['total_s']:.0f} s | "
            f"{row['embedder_fit_s']:.0f} s | {row['embed_s']:.0f} s | "
            f"{row['ans_fit_s']:.0f} s | {_percent(row, 'macro_f1')} | "
            f"{_percent(row, 'auroc')} |"
        )
    lines.append("")
    if results.get("notes"):
        lines += [results["notes"], ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratio", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=1, help="fits, one after the other"
    )
    parser.add_argument("--threads", type=int, default=2)
    add_output_arguments(parser, Path(__file__).with_name("results_pipeline_fit"))
    args = parser.parse_args(argv)
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    start = time.perf_counter()
    rows = []
    for repeat in range(args.repeats):
        rows.append({**run(args.ratio, args.seed), "repeat": repeat})
        print(json.dumps(rows[-1]), flush=True)
    output = Path(args.output)
    results = {
        "output": output.name,
        "rows": rows,
        "runs": [run_record(start)],
    }
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
