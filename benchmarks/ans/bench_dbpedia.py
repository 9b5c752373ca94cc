"""The default text pipeline on open-set DBpedia, a data set with few classes.

TEXTOIR's 14-class DBpedia subsample (900 train / 50 test texts per class),
under two protocols, each drawn per seed:

- the CROSR paper's (its Table 4): ``load_dbpedia(n_known_classes=4,
  n_unknown_classes=k)``, 4 known classes and k = 10 / 8 / 4 unknown
  ("4/14", "4/12", "4/8"; the three share their known classes);
- the open intent papers' (TEXTOIR, ADB, ANS): ``select_known_classes(
  known_ratio=r)`` of the 14 classes, r = 25 / 50 / 75 % (4, 7 and 10 known),
  every other class unknown. At 25 % this is the 4/14 split: ``round(14 *
  0.25) = 4`` classes, and ``select_known_classes`` draws the same 4 as
  ``load_dbpedia`` for a seed (both take the first 4 of one permutation), so
  the two are one setting, "4/14 = 25%".

Features: all-MiniLM-L6-v2 sentence embeddings, ``frozen`` (the encoder as
shipped; what ``make_pipeline(TextEmbedder(), ...)`` fits on fewer than 25
classes since 2026-12-03) or ``finetuned``: ``TextEmbedder(fine_tune_epochs=2,
random_state=seed).fit(texts, y)`` on the known classes' training texts,
what the default pipeline fitted before (cached per seed; the three CROSR
settings share one fit). ``--model`` embeds the frozen features with
another encoder. On each feature set:

- ``ans``: ``ANSOneVsRestClassifier(random_state=seed)``, its defaults;
- ``msp``: ``MSPClassifier(LogisticRegression(max_iter=1000))`` (its default
  threshold 0.5), and ``msp (auto)`` with ``threshold="auto"``;
- ``openmax``: ``OpenMaxClassifier(random_state=seed)``, its defaults.

Metrics: macro-F1 over the known classes and the open class, the AUROC of
``score_samples``, and the share of known test texts rejected. Run from the
repository root::

    python benchmarks/ans/bench_dbpedia.py --features frozen finetuned \\
        --seeds 0 1 2 3 4 --threads 2
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import (
    add_output_arguments,
    add_run_arguments,
    earlier_results,
    fine_tuned_embeddings,
    frozen_embeddings,
    render_only,
    results_header,
    run_record,
)

from sklearn_openset import ANSOneVsRestClassifier, MSPClassifier, OpenMaxClassifier
from sklearn_openset.datasets import (
    load_dbpedia,
    relabel_open_set,
    select_known_classes,
)
from sklearn_openset.metrics import open_set_f1_score, unknown_roc_auc_score

#: setting -> ("crosr", number of unknown classes) or ("ratio", known ratio)
SETTINGS = {
    "4/14 = 25%": ("crosr", 10),
    "4/12": ("crosr", 8),
    "4/8": ("crosr", 4),
    "50%": ("ratio", 0.5),
    "75%": ("ratio", 0.75),
}
#: The fine-tuning of the "finetuned" features: the epochs given, since
#: ``fine_tune_epochs="auto"`` no longer fine-tunes on fewer than 25 classes
#: (the rows of the first run were made with ``{}``, "auto", which then meant
#: these 2 epochs).
FINE_TUNE = {"fine_tune_epochs": 2}
HEADINGS = {
    "frozen": (
        "Frozen all-MiniLM-L6-v2 features (the default pipeline on these "
        "splits: fewer than 25 classes)"
    ),
    "finetuned": (
        "Fine-tuned all-MiniLM-L6-v2 features (the default pipeline before 2026-12-03)"
    ),
}
PUBLISHED_CROSR = {"4/14 = 25%": 0.582, "4/12": 0.627, "4/8": 0.765}  # CROSR Table 4


def estimators(seed):
    return {
        "ans": ANSOneVsRestClassifier(random_state=seed),
        "msp": MSPClassifier(LogisticRegression(max_iter=1000)),
        "msp (auto)": MSPClassifier(
            LogisticRegression(max_iter=1000), threshold="auto"
        ),
        "openmax": OpenMaxClassifier(random_state=seed),
    }


def split(raw, data_home, setting, seed):
    """Known classes, training rows and test rows (with labels) of one setting."""
    kind, value = SETTINGS[setting]
    if kind == "crosr":
        data = load_dbpedia(
            data_home, n_known_classes=4, n_unknown_classes=value, random_state=seed
        )
        known, test_classes = (
            data.known_classes,
            np.r_[data.known_classes, data.unknown_classes],
        )
    else:
        known = select_known_classes(raw.y_train, known_ratio=value, random_state=seed)
        test_classes = np.unique(raw.y_test)
    train_rows = np.flatnonzero(np.isin(raw.y_train, known))
    test_rows = np.flatnonzero(np.isin(raw.y_test, test_classes))
    y_test = relabel_open_set(raw.y_test[test_rows], known, open_label=-1)
    return known, train_rows, test_rows, y_test


def features(raw, kind, train_rows, seed):
    """Training and test embeddings (every test text) of one split's known classes."""
    if kind.startswith("frozen"):
        return raw.frozen_train[train_rows], raw.frozen_test, 0.0
    return fine_tuned_embeddings(
        [raw.text_train[i] for i in train_rows],
        raw.y_train[train_rows],
        raw.text_test,
        FINE_TUNE,
        seed,
    )


def run(kinds, settings, seeds, data_home, model=None):
    raw = load_dbpedia(data_home)
    raw.frozen_train = frozen_embeddings(raw.text_train, model)
    raw.frozen_test = frozen_embeddings(raw.text_test, model)
    rows = []
    for requested in kinds:
        kind = requested
        if requested == "frozen" and model is not None:
            kind = f"frozen {Path(model).name}"
        for setting in settings:
            for seed in seeds:
                known, train_rows, test_rows, y_test = split(
                    raw, data_home, setting, seed
                )
                X_train, X_test, fine_tune_s = features(raw, kind, train_rows, seed)
                X_test = X_test[test_rows]
                y_train = raw.y_train[train_rows]
                row = {
                    "features": kind,
                    "setting": setting,
                    "seed": seed,
                    "known": known.tolist(),
                    "fine_tune_s": fine_tune_s,
                    "f1": {},
                    "auroc": {},
                    "known_rejected": {},
                }
                for name, estimator in estimators(seed).items():
                    estimator.fit(X_train, y_train)
                    y_pred = estimator.predict(X_test)
                    row["f1"][name] = open_set_f1_score(y_test, y_pred, labels=known)
                    row["auroc"][name] = unknown_roc_auc_score(
                        y_test, estimator.score_samples(X_test)
                    )
                    row["known_rejected"][name] = float(
                        np.mean(y_pred[y_test != -1] == -1)
                    )
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def _cells(rows, metric, method, settings, scale=100):
    """Mean ± std over the seeds of each setting ("(n seeds)" where fewer ran)."""
    n_seeds = len({r["seed"] for r in rows})
    cells = []
    for setting in settings:
        values = scale * np.array(
            [r[metric][method] for r in rows if r["setting"] == setting]
        )
        cell = f"{values.mean():.2f} ± {values.std():.2f}" if len(values) else "-"
        if 0 < len(values) < n_seeds:
            cell += f" ({len(values)} seeds)"
        cells.append(cell)
    return cells


def _method_table(rows, metric, methods, settings):
    """A blank line and a table of ``metric``, one row per method."""
    lines = [
        "",
        "| method | " + " | ".join(settings) + " |",
        "|---|" + "---|" * len(settings),
    ]
    for method in methods:
        cells = _cells(rows, metric, method, settings)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def _seed_table(rows, settings, seeds, title, gap):
    """A table of ``gap(row)`` (a string) per setting and seed, "-" where none ran."""
    lines = [
        "",
        title,
        "",
        "| setting | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|" + "---|" * len(seeds),
    ]
    for setting in settings:
        cells = []
        for seed in seeds:
            found = [x for x in rows if x["setting"] == setting and x["seed"] == seed]
            cells.append(gap(found[0]) if found else "-")
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    return lines


def render(results):
    rows = results["rows"]
    settings = [s for s in SETTINGS if any(r["setting"] == s for r in rows)]
    seeds = sorted({r["seed"] for r in rows})
    runs = [(None, r, r["note"]) if r.get("note") else r for r in results["runs"]]
    lines = results_header(
        "The default text pipeline on open-set DBpedia (few classes)",
        "benchmarks/ans/bench_dbpedia.py",
        runs,
        raw=results["output"] + ".json",
    )
    if results.get("notes"):
        lines += [results["notes"], ""]
    methods = list(rows[0]["f1"])
    for kind in dict.fromkeys(r["features"] for r in rows):
        part = [r for r in rows if r["features"] == kind]
        lines += [
            f"## {HEADINGS.get(kind, kind + ' features (frozen)')}",
            "",
            (
                f"Macro-F1 over the known classes and the open class, in %, mean ± "
                f"std over seeds {seeds}. Published CROSR (a text CNN on the full "
                "DBpedia): "
                + " / ".join(f"{v * 100:.1f}" for v in PUBLISHED_CROSR.values())
                + " at 4/14 / 4/12 / 4/8."
            ),
        ]
        lines += _method_table(part, "f1", methods, settings)
        lines += [
            "",
            "AUROC of `score_samples` (known test texts against unknown ones), in %:",
        ]
        # A threshold does not move score_samples: one AUROC row per model.
        auroc_methods = [m for m in methods if m != "msp (auto)"]
        lines += _method_table(part, "auroc", auroc_methods, settings)
        lines += ["", "Share of the known test texts rejected, in %:"]
        lines += _method_table(part, "known_rejected", methods, settings)
        lines += _seed_table(
            part,
            settings,
            seeds,
            "Macro-F1 of ANS minus MSP (threshold 0.5 / auto) per seed, in points:",
            lambda r: " / ".join(
                f"{100 * (r['f1']['ans'] - r['f1'][m]):+.1f}"
                for m in ("msp", "msp (auto)")
            ),
        )
        fine_tune = [r["fine_tune_s"] for r in part if r["fine_tune_s"]]
        if fine_tune:
            lines += [
                "",
                (
                    f"Fine-tuning took {min(fine_tune):.0f} to {max(fine_tune):.0f} s "
                    "per split (the run that filled the cache)."
                ),
            ]
        lines.append("")
    frozen = {(r["setting"], r["seed"]): r for r in rows if r["features"] == "frozen"}
    tuned = [r for r in rows if r["features"] == "finetuned"]
    if frozen and tuned:
        lines += ["## Fine-tuned against frozen features"]
        lines += _seed_table(
            tuned,
            settings,
            seeds,
            (
                "ANS, fine-tuned minus frozen features per seed, in points: "
                "macro-F1 / AUROC:"
            ),
            lambda r: " / ".join(
                f"{100 * (r[k]['ans'] - frozen[r['setting'], r['seed']][k]['ans']):+.1f}"
                for k in ("f1", "auroc")
            ),
        )
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(parser, seeds=[0, 1, 2, 3, 4])
    add_output_arguments(parser, Path(__file__).with_name("results_dbpedia"))
    parser.add_argument(
        "--features",
        nargs="+",
        default=["frozen", "finetuned"],
        choices=["frozen", "finetuned"],
    )
    parser.add_argument(
        "--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS)
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of an earlier run at --output that this run does not redo",
    )
    parser.add_argument(
        "--model",
        default=None,
        help=(
            "another encoder's folder for the frozen features (rows labelled "
            "'frozen <folder name>'); the fine-tuned ones always use the default"
        ),
    )
    args = parser.parse_args(argv)
    output = Path(args.output)
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    start = time.perf_counter()
    rows = run(args.features, args.settings, args.seeds, args.data_home, args.model)
    kept, runs, notes = [], [], None
    if args.merge:
        redone = {(r["features"], r["setting"], r["seed"]) for r in rows}
        kept, runs, notes = earlier_results(
            output, lambda r: (r["features"], r["setting"], r["seed"]) in redone
        )
    results = {
        "output": output.name,
        "rows": kept + rows,
        "runs": [*runs, run_record(start)],
    }
    if notes:
        results["notes"] = notes
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
