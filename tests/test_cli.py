import json
import subprocess
import sys

import pytest

from sklearn_openset import MSPClassifier
from sklearn_openset._cli import main
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.evaluation import (
    ESTIMATORS,
    evaluate_estimator,
    format_results,
    register_estimator,
    run_protocol,
)

METRICS = ["accuracy", "macro_f1", "f1_known", "f1_open", "auroc", "closed_accuracy"]


def test_evaluate_prints_the_papers_metrics(capsys, tmp_path):
    output = tmp_path / "runs.json"
    assert (
        main(
            [
                "evaluate",
                "--estimators",
                "msp",
                "--seeds",
                "0",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    for header in [
        "Accuracy",
        "Macro-F1",
        "F1-known",
        "F1-open",
        "AUROC",
        "Closed acc",
    ]:
        assert header in captured.out
    assert "msp" in captured.out
    assert "[2/2] msp on digits, seed 1" in captured.err
    runs = json.loads(output.read_text())["runs"]
    assert [run["seed"] for run in runs] == [0, 1]
    for run in runs:
        assert all(0 <= run[m] <= 1 for m in METRICS)


def test_evaluate_matches_the_library_metrics():
    X_train, X_test, y_train, y_test = load_digits_open_set(
        known_ratio=0.6, random_state=0
    )
    direct = evaluate_estimator(MSPClassifier(), X_train, y_train, X_test, y_test)
    (row,) = run_protocol(["msp"], "digits", [0], progress=False)
    for metric in METRICS:
        assert row[metric] == pytest.approx(direct[metric])
    assert "±" in format_results([row])


def test_registered_estimators_include_msp():
    assert "msp" in ESTIMATORS


def test_register_a_new_estimator():
    register_estimator("msp-strict", lambda seed: MSPClassifier(threshold=0.9))
    try:
        (row,) = run_protocol(["msp-strict"], "blobs", [0], progress=False)
        assert 0 <= row["macro_f1"] <= 1
    finally:
        del ESTIMATORS["msp-strict"]


def test_bad_arguments_are_clear(capsys):
    assert main(["evaluate", "--estimators", "nope"]) == 2
    assert "Unknown estimator" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "nope"]) == 2
    assert "Unknown dataset" in capsys.readouterr().err
    assert main(["evaluate", "--list"]) == 0
    assert "digits" in capsys.readouterr().out


def test_mnist_protocol_reads_shared_data():
    (row,) = run_protocol(["msp"], "mnist", [0], progress=False)
    assert row["closed_accuracy"] > 0.9


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_openset", "evaluate", "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "msp" in result.stdout
