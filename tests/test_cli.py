import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from sklearn_openset import MSPClassifier
from sklearn_openset._cli import main
from sklearn_openset.datasets import (
    CAC_MNIST_KNOWN_CLASSES,
    _fetchers,
    load_digits_open_set,
)
from sklearn_openset.evaluation import (
    CACHE_ENV,
    DATASETS,
    ESTIMATORS,
    evaluate_estimator,
    format_results,
    load_class_split_trial,
    register_dataset,
    register_estimator,
    run_protocol,
    summarize,
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


def test_the_protocol_owns_its_table_of_estimators():
    assert list(ESTIMATORS) == [
        "ans",
        "cac",
        "crosr",
        "msp",
        "msp-tuned",
        "openmax",
        "openmax-lr",
    ]
    assert list(DATASETS) == ["digits", "mnist", "blobs", "clinc150"]
    for name, entry in ESTIMATORS.items():
        estimator = entry.factory(3)
        assert hasattr(estimator, "fit") and entry.description, name
    assert ESTIMATORS["cac"].factory(3).random_state == 3
    # The methods know nothing of the protocol: importing them does not
    # import it.
    code = (
        "import sys, sklearn_openset; "
        "print('sklearn_openset.evaluation' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_register_a_new_estimator():
    register_estimator("msp-strict", lambda seed: MSPClassifier(threshold=0.9))
    try:
        assert list(ESTIMATORS)[-1] == "msp-strict"
        (row,) = run_protocol(["msp-strict"], "blobs", [0], progress=False)
        assert 0 <= row["macro_f1"] <= 1
    finally:
        del ESTIMATORS["msp-strict"]
    assert "msp-strict" not in ESTIMATORS


def test_register_a_dataset_without_a_known_ratio(capsys):
    # A loader of the old signature (no progress keyword), no known_ratio.
    def loader(seed, *, known_ratio=None, data_home=None):
        return load_digits_open_set(known_ratio=0.5, random_state=seed)

    register_dataset("half-digits", loader, description="digits, 5 of 10 known")
    try:
        assert (
            main(
                [
                    "evaluate",
                    "--dataset",
                    "half-digits",
                    "--estimators",
                    "msp",
                    "--seeds",
                    "0",
                ]
            )
            == 0
        )
        captured = capsys.readouterr()
        assert "known ratio the dataset's default (5 known classes)" in captured.out
        assert "[1/1] msp on half-digits, seed 0: macro-F1" in captured.err
    finally:
        del DATASETS["half-digits"]


def test_class_split_trial_is_the_cac_protocol():
    X_train, X_test, y_train, y_test = load_class_split_trial(1, "digits")
    assert set(y_train) == set(CAC_MNIST_KNOWN_CLASSES[1])
    assert set(y_test) == set(CAC_MNIST_KNOWN_CLASSES[1]) | {-1}
    assert X_train.shape[1:] == (64,) and X_train.dtype == np.float64
    assert 0 <= X_train.min() and X_train.max() <= 1
    images = load_class_split_trial(1, "digits", images=True, dtype=np.float32)
    assert images[0].shape[1:] == (1, 8, 8) and images[0].dtype == np.float32
    np.testing.assert_array_equal(images[0].reshape(len(X_train), -1), X_train)
    with pytest.raises(ValueError, match="mnist"):
        load_class_split_trial(0, "cifar")


def test_summarize_by_several_keys():
    rows = [
        {"features": "a", "ratio": 0.5, "macro_f1": 1.0},
        {"features": "a", "ratio": 0.5, "macro_f1": 3.0},
        {"features": "b", "ratio": 0.5, "macro_f1": 5.0},
    ]
    summary = summarize(rows, by=("features", "ratio"), metrics=["macro_f1"])
    assert summary == {
        ("a", 0.5): {"macro_f1": (2.0, 1.0)},
        ("b", 0.5): {"macro_f1": (5.0, 0.0)},
    }


def test_bad_arguments_are_clear(capsys):
    assert main(["evaluate", "--estimators", "nope"]) == 2
    assert "Unknown estimator" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "nope"]) == 2
    assert "Unknown dataset" in capsys.readouterr().err
    assert main(["evaluate", "--list"]) == 0
    assert "digits" in capsys.readouterr().out


def test_mnist_protocol_reads_the_data_home(mnist_home):
    (row,) = run_protocol(["msp"], "mnist", [0], progress=False)
    assert row["closed_accuracy"] > 0.9
    X_train, X_test, y_train, y_test = load_class_split_trial(
        0, "mnist", images=True, dtype=np.float32
    )
    assert X_train.shape == (len(y_train), 1, 28, 28) and X_test.shape[0] == 10000
    assert set(y_train) == set(CAC_MNIST_KNOWN_CLASSES[0])


def test_evaluate_reports_a_failed_download(capsys, tmp_path, monkeypatch):
    # An empty data home: the mnist dataset downloads, here from a closed port.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(_fetchers._BASE_URLS, "mnist", f"http://127.0.0.1:{port}/")
    argv = ["evaluate", "--dataset", "mnist", "--data-home", str(tmp_path / "d")]
    assert main([*argv, "--estimators", "msp", "--seeds", "0", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert f"Could not download http://127.0.0.1:{port}/train-images" in error
    assert not (tmp_path / "d").exists()


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_openset", "evaluate", "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "msp" in result.stdout


def test_help_lists_the_datasets_and_estimators(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "datasets (--dataset):" in out and "estimators (--estimators):" in out
    for table in (DATASETS, ESTIMATORS):
        for name, entry in table.items():
            assert f"  {name} " in out
            # The description, wrapped: its first words at least.
            assert " ".join(entry.description.split()[:3]) in out
    assert "(default known ratio: 0.6)" in out and "median" in out


def test_header_shows_the_known_ratio(capsys):
    argv = ["evaluate", "--estimators", "msp", "--seeds", "0", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "known ratio 0.6, the dataset's default (6 known classes)" in out
    assert "protocol default" not in out
    assert main([*argv, "--known-ratio", "0.4"]) == 0
    assert "known ratio 0.4 (4 known classes)" in capsys.readouterr().out
    assert main([*argv, "--dataset", "blobs"]) == 0
    assert "known ratio 0.6, the dataset's default (3 known" in capsys.readouterr().out


def test_times_are_the_median_over_seeds(capsys, tmp_path):
    # A first fit with a warm-up: the median leaves it out, the mean would not.
    scores = dict.fromkeys(METRICS, 0.5)
    rows = [
        {
            "estimator": "ans",
            "seed": seed,
            **scores,
            "fit_time": fit,
            "predict_time": 0.1,
        }
        for seed, fit in enumerate([16.4, 0.6, 0.7])
    ]
    table = format_results(rows)
    header, _rule, line, note = table.splitlines()
    assert "Fit s, median" in header and "Predict s, median" in header
    assert "0.70 (0.60-16.40)" in line and "0.5000 ± 0.0000" in line
    assert note.startswith("Scores: mean ± std over seeds. Times: median (min-max)")

    output = tmp_path / "runs.json"
    argv = ["evaluate", "--estimators", "msp", "--seeds", "0", "1", "2", "--quiet"]
    assert main([*argv, "--output", str(output)]) == 0
    assert "Times: median (min-max) over seeds" in capsys.readouterr().out
    report = json.loads(output.read_text())
    assert report["statistics"]["times"].startswith("median")
    assert report["known_ratio"] == 0.6 and report["known_ratio_is_default"]
    fits = sorted(run["fit_time"] for run in report["runs"])
    summary = report["summary"]["msp"]
    assert summary["fit_time"] == {"median": fits[1], "min": fits[0], "max": fits[2]}
    assert set(summary["macro_f1"]) == {"mean", "std"}


def test_progress_shows_unless_quiet(capsys):
    argv = ["evaluate", "--estimators", "msp", "--seeds", "0"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Loading digits, seed 0" in err
    assert "[1/1] msp on digits, seed 0: macro-F1" in err
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


@pytest.fixture
def tiny_clinc150(tmp_path, monkeypatch):
    """The clinc150 dataset on a tiny random BERT and a few sentences, offline."""
    pytest.importorskip("transformers")
    import torch
    from sklearn.utils import Bunch
    from transformers import BertConfig, BertModel, BertTokenizer

    from sklearn_openset import datasets, feature_extraction

    templates = ["book a flight to {}", "weather in {}", "play music from {}"]
    cities = ["paris", "rome", "tokyo", "berlin", "madrid", "london"]
    texts = [t.format(c) for t in templates for c in cities]
    y = np.repeat([0, 1, 2], len(cities))
    words = sorted({word for text in texts for word in text.split()})
    path = tmp_path / "tiny-bert"
    path.mkdir()
    (path / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n"
    )
    BertTokenizer(vocab_file=str(path / "vocab.txt")).save_pretrained(path)
    config = BertConfig(
        vocab_size=5 + len(words),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(path)

    def fetch_clinc150(data_home=None, *, known_ratio=None, random_state=None):
        return Bunch(
            text_train=texts,
            y_train=y,
            text_test=texts,
            y_test=np.where(y < 2, y, -1),
            known_classes=np.array([0, 1]),
        )

    monkeypatch.setattr(datasets, "fetch_clinc150", fetch_clinc150)
    monkeypatch.setattr(feature_extraction, "default_model_path", lambda: str(path))
    return tmp_path


def test_clinc150_shows_a_progress_bar_while_embedding(
    tiny_clinc150, capsys, monkeypatch
):
    argv = ["evaluate", "--dataset", "clinc150", "--estimators", "msp", "--seeds"]
    monkeypatch.setenv(CACHE_ENV, str(tiny_clinc150 / "cache"))
    assert main([*argv, "0"]) == 0
    captured = capsys.readouterr()
    assert "embedding:   0%|          | 0/18" in captured.err
    assert "known ratio 0.5, the dataset's default (2 known classes)" in captured.out
    # Cached: no bar on the next seed's load.
    assert main([*argv, "1"]) == 0
    assert "embedding" not in capsys.readouterr().err
    # Quiet: no bar, even when embedding.
    monkeypatch.setenv(CACHE_ENV, str(tiny_clinc150 / "other-cache"))
    assert main([*argv, "0", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert list((tiny_clinc150 / "other-cache").iterdir())
