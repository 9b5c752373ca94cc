"""The same model selection on this machine and on a local 2-worker Dask cluster.

A ``GridSearchCV`` of ``CACClassifier`` (4 candidates: learning rate x anchor
magnitude; 20 epochs) over 3 pseudo-open splits (``PseudoOpenSetSplit``,
12 fits) and a ``TunedOpenSetThresholdCV`` of that classifier (5 pseudo-open
splits), on scikit-learn's digits (64 features, 6 known digits; CAC's
default MLP), run
three ways: one process (``n_jobs=1``), joblib's default backend with
``n_jobs=2``, and joblib's Dask backend on a ``distributed.LocalCluster`` of 2
single-threaded worker processes on the loopback address
(``joblib.parallel_config(backend="dask")``, the user code otherwise
unchanged). Reported: wall time of each (the cluster's start-up apart) and
whether the results (best parameters, mean test scores, the tuned threshold)
are identical to the one-process run. Run from the repository root::

    python benchmarks/tuning/bench_dask.py
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import add_output_arguments, render_only, results_header, run_record

from sklearn_openset import CACClassifier
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.metrics import open_set_f1_scorer
from sklearn_openset.model_selection import PseudoOpenSetSplit, TunedOpenSetThresholdCV


def data():
    X_train, _, y_train, _ = load_digits_open_set(random_state=0)
    return X_train.astype(np.float32), y_train


def estimator():
    return CACClassifier(max_epochs=20, batch_size=64, random_state=0)


def search(n_jobs):
    return GridSearchCV(
        estimator(),
        {"lr": [1e-3, 1e-2], "magnitude": [5.0, 10.0]},
        scoring=open_set_f1_scorer,
        cv=PseudoOpenSetSplit(n_splits=3, random_state=0),
        n_jobs=n_jobs,
    )


def tuner(n_jobs):
    return TunedOpenSetThresholdCV(estimator(), cv=5, n_jobs=n_jobs, random_state=0)


def timed(make, n_jobs, X, y):
    start = time.perf_counter()
    fitted = make(n_jobs).fit(X, y)
    return fitted, time.perf_counter() - start


def outcome(search_fit, tuner_fit):
    return {
        "best_params": search_fit.best_params_,
        "mean_test_score": search_fit.cv_results_["mean_test_score"].tolist(),
        "threshold": float(tuner_fit.threshold_),
        "tuner_mean_score": tuner_fit.cv_results_["mean_score"].tolist(),
    }


def run():
    import distributed

    X, y = data()
    rows = {}
    for label, n_jobs, backend in (
        ("one process", 1, None),
        ("joblib n_jobs=2", 2, None),
        ("Dask, 2 workers", 2, "dask"),
    ):
        cluster = client = None
        startup = 0.0
        if backend == "dask":
            start = time.perf_counter()
            cluster = distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=40,
            )
            client = distributed.Client(cluster)
            startup = time.perf_counter() - start
        with (
            joblib.parallel_config(backend=backend)
            if backend
            else contextlib.nullcontext()
        ):
            search_fit, search_s = timed(search, n_jobs, X, y)
            tuner_fit, tuner_s = timed(tuner, n_jobs, X, y)
        if client is not None:
            client.close()
            cluster.close()
        rows[label] = {
            "search_s": search_s,
            "tuner_s": tuner_s,
            "startup_s": startup,
            **outcome(search_fit, tuner_fit),
        }
        print(label, json.dumps(rows[label]), flush=True)
    return rows


def render(results):
    rows = results["rows"]
    base = rows["one process"]
    lines = results_header(
        "Model selection on a local Dask cluster",
        "benchmarks/tuning/bench_dask.py",
        results["runs"],
        raw=results["output"] + ".json",
        about="setup in its docstring",
    )
    lines += [
        (
            "| run | GridSearchCV (s) | TunedOpenSetThresholdCV (s) | cluster start (s) "
            "| results identical to one process |"
        ),
        "|---|---|---|---|---|",
    ]
    for label, row in rows.items():
        same = (
            row["best_params"] == base["best_params"]
            and row["mean_test_score"] == base["mean_test_score"]
            and row["threshold"] == base["threshold"]
            and row["tuner_mean_score"] == base["tuner_mean_score"]
        )
        lines.append(
            f"| {label} | {row['search_s']:.1f} | {row['tuner_s']:.1f} "
            f"| {row['startup_s']:.1f} | {'yes' if same else 'no'} |"
        )
    lines += [
        "",
        (
            f"Best parameters {base['best_params']}; tuned threshold "
            f"{base['threshold']:.4f}. The Dask run changes nothing but the joblib "
            "backend; its workers are processes of this machine, so its times show "
            "the overhead of shipping the tasks, not a gain from more hardware."
        ),
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_output_arguments(parser, Path(__file__).with_name("results_dask"))
    args = parser.parse_args()
    if render_only(args, render):
        return
    torch.set_num_threads(1)
    threadpool_limits(1)
    start = time.perf_counter()
    rows = run()
    output = Path(args.output)
    results = {"runs": [run_record(start)], "output": output.name, "rows": rows}
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
