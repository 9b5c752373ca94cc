"""Tests of sklearn_openset.datasets: known-class selection, splits, loaders."""

import csv
import functools
import gzip
import hashlib
import http.server
import io
import re
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_openset
from sklearn_openset.datasets import (
    CAC_MNIST_KNOWN_CLASSES,
    DATA_HOME_ENV,
    DBPEDIA_CLASSES,
    _fetchers,
    fetch_clinc150,
    fetch_dbpedia,
    fetch_mnist,
    get_data_home,
    load_clinc150,
    load_dbpedia,
    load_digits_open_set,
    load_mnist,
    make_open_set_blobs,
    make_open_set_split,
    relabel_open_set,
    select_known_classes,
)

# 150 string labels, deliberately not sorted: the recipe sorts them first.
INTENTS = [f"intent_{i:03d}" for i in np.random.RandomState(42).permutation(150)]


def global_recipe(labels, ratio, seed):
    """The papers' code, verbatim, on the global numpy generator (restored)."""
    state = np.random.get_state()
    try:
        all_labels = np.unique(np.array(labels))
        n_known = round(len(all_labels) * ratio)
        np.random.seed(seed)
        chosen = np.random.choice(all_labels, n_known, replace=False)
    finally:
        np.random.set_state(state)
    return np.sort(chosen)


@pytest.fixture(scope="module")
def clinc_raw(clinc150_home):
    return load_clinc150()


# --------------------------------------------------------------------------
# select_known_classes


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
@pytest.mark.parametrize("labels", [INTENTS, list(range(10))], ids=["150str", "10int"])
def test_select_known_classes_matches_global_recipe(labels, ratio, seed):
    expected = global_recipe(labels, ratio, seed)
    known = select_known_classes(labels, known_ratio=ratio, random_state=seed)
    assert_array_equal(known, expected)
    assert known.dtype == np.asarray(labels).dtype


@pytest.mark.parametrize("ratio, n_known", [(0.25, 38), (0.5, 75), (0.75, 112)])
def test_select_known_classes_counts_use_python_round(ratio, n_known):
    known = select_known_classes(INTENTS, known_ratio=ratio, random_state=0)
    assert len(known) == n_known
    assert np.all(known[:-1] < known[1:])  # sorted, unique
    assert set(known) <= set(INTENTS)


def test_select_known_classes_regression_values():
    # Fixed values: a change of numpy's legacy RandomState would show here.
    assert_array_equal(
        select_known_classes(range(10), known_ratio=0.6, random_state=0),
        [1, 2, 4, 6, 8, 9],
    )
    assert_array_equal(
        select_known_classes(range(10), known_ratio=0.5, random_state=1),
        global_recipe(range(10), 0.5, 1),
    )


def test_select_known_classes_leaves_global_rng_alone():
    np.random.seed(123)
    before = np.random.get_state()
    select_known_classes(INTENTS, known_ratio=0.5, random_state=7)
    after = np.random.get_state()
    assert before[0] == after[0]
    assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_select_known_classes_accepts_duplicates_and_random_state_instance():
    y = np.repeat(np.arange(8), 3)
    known = select_known_classes(
        y, known_ratio=0.5, random_state=np.random.RandomState(3)
    )
    assert_array_equal(known, global_recipe(range(8), 0.5, 3))


def test_select_known_classes_explicit():
    known = select_known_classes(["d", "a", "c", "b"], known_classes=["c", "a", "c"])
    assert_array_equal(known, ["a", "c"])
    assert_array_equal(
        select_known_classes(range(10), known_classes=(9, 0, 4)), [0, 4, 9]
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one"),
        ({"known_ratio": 0.5, "known_classes": [0, 1]}, "exactly one"),
        ({"known_ratio": 0.1}, "at least 2"),  # round(1.0) = 1 known
        ({"known_ratio": 0.97}, "no class would be unknown"),  # round(9.7) = 10
        ({"known_classes": [0, 1, 10]}, "subset"),
        ({"known_classes": [3]}, "at least 2"),
        ({"known_classes": list(range(10))}, "no class would be unknown"),
    ],
)
def test_select_known_classes_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_known_classes(range(10), **kwargs)


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.2])
def test_select_known_classes_ratio_outside_open_interval(ratio):
    with pytest.raises(InvalidParameterError, match="known_ratio"):
        select_known_classes(range(10), known_ratio=ratio)


def test_cac_mnist_known_classes():
    assert CAC_MNIST_KNOWN_CLASSES == (
        (0, 1, 2, 4, 5, 9),
        (0, 3, 5, 7, 8, 9),
        (0, 1, 5, 6, 7, 8),
        (3, 4, 5, 7, 8, 9),
        (0, 1, 2, 3, 7, 8),
    )
    for known in CAC_MNIST_KNOWN_CLASSES:
        assert_array_equal(select_known_classes(range(10), known_classes=known), known)


# --------------------------------------------------------------------------
# relabel_open_set


def test_relabel_open_set_basic_and_input_untouched():
    y = np.array([3, 0, 1, 2, 1, 3])
    y_copy = y.copy()
    out = relabel_open_set(y, [1, 3])
    assert_array_equal(out, [3, -1, 1, -1, 1, 3])
    assert_array_equal(y, y_copy)
    assert out is not y


@pytest.mark.parametrize(
    "y, open_label, kind",
    [
        (np.array([0, 1, 2], dtype=np.uint8), -1, "i"),  # widened to signed
        (np.array([0.0, 1.0, 2.0]), -1, "f"),
        (np.array(["a", "b", "c"]), "unknown", "U"),
        (np.array(["a", "b", "c"]), -1, "O"),
        (np.array([0, 1, 2]), "unknown", "O"),
    ],
)
def test_relabel_open_set_dtype_holds_open_label(y, open_label, kind):
    out = relabel_open_set(y, y[:2], open_label=open_label)
    assert out.dtype.kind == kind
    assert out[2] == open_label
    assert list(out[:2]) == list(y[:2])


def test_relabel_open_set_rejects_known_open_label():
    with pytest.raises(
        ValueError, match="open_label=1 is also a class label in known_classes"
    ):
        relabel_open_set([0, 1, 2], [0, 1], open_label=1)
    with pytest.raises(ValueError, match="open_label=True is also a class label"):
        relabel_open_set([0, 1, 2], [0, 1], open_label=True)  # True == 1
    # "1" and 1 are different labels
    assert relabel_open_set(["1", "2"], ["1"], open_label=1).tolist() == ["1", 1]


@pytest.mark.parametrize(
    "y, known, open_label, expected",
    [
        # bool labels used to become the int64 1 / 0 next to -1
        ([True, False, True], [True], -1, [True, -1, True]),
        ([0, 5, 2], [0, 2], True, [0, True, 2]),
    ],
)
def test_relabel_open_set_keeps_bools_apart_from_ints(y, known, open_label, expected):
    # The dtype rule of the estimators' predict (utils.open_set_label_dtype):
    # a bool on one side only is an object array.
    out = relabel_open_set(np.array(y), known, open_label=open_label)
    assert out.dtype == object
    assert out.tolist() == expected
    assert [type(v) for v in out.tolist()] == [type(v) for v in expected]


# --------------------------------------------------------------------------
# make_open_set_split


def _toy(n_classes=6, per_class=10):
    y = np.repeat(np.arange(n_classes), per_class)
    X = np.arange(len(y)).reshape(-1, 1) * 10  # X encodes the row index
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_make_open_set_split_protocol(seed):
    X, y = _toy()
    X_copy, y_copy = X.copy(), y.copy()
    X_train, X_test, y_train, y_test = make_open_set_split(
        X, y, known_ratio=0.5, test_size=0.3, random_state=seed
    )
    # same rows as sklearn's stratified split, same classes as the recipe
    ref_train, ref_test, ref_y_train, ref_y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    known = global_recipe(y, 0.5, seed)
    keep = np.isin(ref_y_train, known)
    assert_array_equal(X_train, ref_train[keep])
    assert_array_equal(y_train, ref_y_train[keep])
    assert_array_equal(X_test, ref_test)
    assert_array_equal(y_test, np.where(np.isin(ref_y_test, known), ref_y_test, -1))

    rows_train, rows_test = X_train.ravel() // 10, X_test.ravel() // 10
    assert not set(rows_train) & set(rows_test)
    assert_array_equal(np.unique(y_train), known)
    assert_array_equal(y[rows_train], y_train)
    # every test row of an unknown class is open, every known one keeps its label
    is_known = np.isin(y[rows_test], known)
    assert np.all(y_test[~is_known] == -1)
    assert_array_equal(y_test[is_known], y[rows_test][is_known])
    assert len(rows_test) == 18 and (~is_known).sum() == 9
    # inputs untouched
    assert_array_equal(X, X_copy)
    assert_array_equal(y, y_copy)


def test_make_open_set_split_images_texts_and_string_labels():
    rng = np.random.RandomState(0)
    images = rng.rand(40, 5, 4)
    names = np.array(["ant", "bee", "cat", "dog"])
    y = names[np.repeat(np.arange(4), 10)]
    texts = [f"text {i}" for i in range(40)]

    Xi_train, Xi_test, y_train, y_test = make_open_set_split(
        images, y, known_classes=["ant", "dog"], test_size=0.25, random_state=0
    )
    assert Xi_train.shape == (15, 5, 4) and Xi_test.shape == (10, 5, 4)
    assert y_train.dtype.kind == "U" and set(y_train) == {"ant", "dog"}
    assert y_test.dtype == object
    assert sorted(set(y_test), key=str) == [-1, "ant", "dog"]

    Xt_train, Xt_test, _, yt_test = make_open_set_split(
        texts, y, known_classes=["ant", "dog"], test_size=0.25, random_state=0
    )
    assert isinstance(Xt_train, list) and isinstance(Xt_train[0], str)
    # the same rows are chosen whatever X is
    rows = [int(t.split()[1]) for t in Xt_test]
    assert_array_equal(images[rows], Xi_test)
    assert_array_equal(yt_test, y_test)

    *_, y_test_str = make_open_set_split(
        texts, y, known_classes=["ant", "dog"], open_label="unknown", random_state=0
    )
    assert y_test_str.dtype.kind == "U" and "unknown" in set(y_test_str)


def test_make_open_set_split_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _toy(4, 5)
    df = pd.DataFrame({"a": X.ravel()})
    X_train, _, y_train, _ = make_open_set_split(
        df, y, known_classes=[0, 1], test_size=0.4, random_state=0
    )
    assert isinstance(X_train, pd.DataFrame)
    assert_array_equal(X_train["a"].to_numpy() // 10 // 5, y_train)


def test_make_open_set_split_errors():
    X, y = _toy()
    with pytest.raises(ValueError, match="open_label"):
        make_open_set_split(X, np.where(y == 0, -1, y), known_ratio=0.5)
    with pytest.raises(ValueError, match="open_label=3 is also a class label in y"):
        make_open_set_split(X, y, known_ratio=0.5, open_label=3)
    with pytest.raises(ValueError, match="exactly one"):
        make_open_set_split(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_open_set_split(X[:-1], y, known_ratio=0.5)
    with pytest.raises(InvalidParameterError, match="test_size"):
        make_open_set_split(X, y, known_ratio=0.5, test_size=1.0)


# --------------------------------------------------------------------------
# make_open_set_blobs


def test_make_open_set_blobs():
    X_train, X_test, y_train, y_test = make_open_set_blobs(
        500, n_features=3, n_known_classes=3, n_unknown_classes=2, random_state=0
    )
    assert X_train.shape == (210, 3) and X_test.shape == (150, 3)
    assert_array_equal(np.unique(y_train), [0, 1, 2])
    values, counts = np.unique(y_test, return_counts=True)
    assert_array_equal(values, [-1, 0, 1, 2])
    assert_array_equal(counts, [60, 30, 30, 30])
    # reproducible with an int, different with another seed
    again = make_open_set_blobs(
        500, n_features=3, n_known_classes=3, n_unknown_classes=2, random_state=0
    )
    assert_array_equal(again[0], X_train)
    assert_array_equal(again[3], y_test)
    other = make_open_set_blobs(
        500, n_features=3, n_known_classes=3, n_unknown_classes=2, random_state=1
    )
    assert not np.allclose(other[0], X_train)


def test_make_open_set_blobs_open_label_and_errors():
    *_, y_test = make_open_set_blobs(100, open_label="unknown", random_state=0)
    assert y_test.dtype == object and "unknown" in set(y_test)
    with pytest.raises(ValueError, match="open_label"):
        make_open_set_blobs(100, open_label=4, random_state=0)
    with pytest.raises(InvalidParameterError, match="n_known_classes"):
        make_open_set_blobs(100, n_known_classes=1)
    with pytest.raises(InvalidParameterError, match="n_unknown_classes"):
        make_open_set_blobs(100, n_unknown_classes=0)


# --------------------------------------------------------------------------
# data home resolution


def test_get_data_home_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_HOME_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "home" / "sklearn_openset_data"
    assert not (tmp_path / "home").exists()  # not created
    assert get_data_home(tmp_path) == tmp_path
    assert get_data_home(str(tmp_path)) == tmp_path
    assert get_data_home("~/data") == tmp_path / "home" / "data"

    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path) == tmp_path  # the argument wins


def test_library_never_looks_beside_the_checkout():
    # The shared data is the tests' business (conftest.py), not the library's.
    package = Path(sklearn_openset.__file__).resolve().parent
    lookup = re.compile(r"""\.\./shared|["']shared["']""")
    for path in package.rglob("*.py"):
        assert not lookup.search(path.read_text()), path


def test_loaders_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch_clinc150.*" + DATA_HOME_ENV):
        load_clinc150(tmp_path)
    with pytest.raises(FileNotFoundError, match="fetch_dbpedia"):
        load_dbpedia(tmp_path)
    with pytest.raises(FileNotFoundError, match="mnist_train5k.npz.*fetch_mnist"):
        load_mnist(tmp_path)


def _write_tsv(path, rows, header=("text", "label")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)


def test_load_clinc150_small_copy_via_env(monkeypatch, tmp_path):
    folder = tmp_path / "clinc150"
    folder.mkdir()
    train = [(f'say "{c}{i}"', c) for c in "abcd" for i in range(2)]
    _write_tsv(folder / "train.tsv", train)
    _write_tsv(folder / "dev.tsv", [("x", "a"), ("y", "c")])
    _write_tsv(folder / "test.tsv", [('"quoted', "a"), ("n\tt", "b"), ("o", "oos")])
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path))

    raw = load_clinc150()
    assert raw.text_train[0] == 'say "a0"'
    assert raw.text_test[:2] == ['"quoted', "n\tt"]
    assert_array_equal(raw.known_classes, ["a", "b", "c", "d"])

    data = load_clinc150(known_ratio=0.5, random_state=0, open_label="<UNK>")
    known = global_recipe(list("abcd"), 0.5, 0)
    assert_array_equal(data.known_classes, known)
    assert set(data.y_train) == set(known)
    assert len(data.text_train) == len(data.y_train) == 4
    assert set(data.y_dev) <= set(known)
    assert data.y_test[-1] == "<UNK>"
    for label, raw_label in zip(data.y_test, raw.y_test):
        assert label == (raw_label if raw_label in known else "<UNK>")

    _write_tsv(folder / "dev.tsv", [("x", "a")], header=("sentence", "label"))
    with pytest.raises(ValueError, match="header"):
        load_clinc150()


# --------------------------------------------------------------------------
# the real data (the data home that tests/conftest.py sets)


def test_load_clinc150_raw(clinc_raw, clinc150_home):
    data = clinc_raw
    assert (len(data.text_train), len(data.text_dev), len(data.text_test)) == (
        15000,
        3000,
        5700,
    )
    assert len(data.y_train) == 15000 and len(data.y_test) == 5700
    assert len(data.known_classes) == 150 and "oos" not in data.known_classes
    assert (data.y_test == "oos").sum() == 1200
    assert "oos" not in set(data.y_train) | set(data.y_dev)
    assert all(isinstance(t, str) for t in data.text_test)

    pd = pytest.importorskip("pandas")
    for part in ("train", "dev", "test"):
        frame = pd.read_csv(
            clinc150_home / "clinc150" / f"{part}.tsv",
            sep="\t",
            keep_default_na=False,
        )
        assert frame["text"].tolist() == data[f"text_{part}"]
        assert_array_equal(frame["label"].to_numpy(dtype=str), data[f"y_{part}"])


def test_load_clinc150_textoir_protocol(clinc_raw):
    data = load_clinc150(known_ratio=0.5, random_state=0)
    known = data.known_classes
    assert len(known) == 75
    assert_array_equal(known, global_recipe(clinc_raw.y_train, 0.5, 0))
    # train and dev: known intents only
    assert set(data.y_train) == set(known)
    assert len(data.text_train) == len(data.y_train) == 7500
    assert set(data.y_dev) == set(known) and len(data.text_dev) == 1500
    # test: every row, the oos ones and the unknown intents open
    assert len(data.text_test) == len(data.y_test) == 5700
    assert data.y_test.dtype == object
    is_oos = clinc_raw.y_test == "oos"
    assert np.all(data.y_test[is_oos] == -1)
    is_known = np.isin(clinc_raw.y_test, known)
    assert np.all(data.y_test[~is_known] == -1)
    assert_array_equal(data.y_test[is_known], clinc_raw.y_test[is_known])
    assert (data.y_test == -1).sum() == 5700 - 75 * 30


@pytest.mark.parametrize("ratio, n_known", [(0.25, 38), (0.75, 112)])
def test_load_clinc150_other_ratios(clinc_raw, ratio, n_known):
    data = load_clinc150(known_ratio=ratio, random_state=1)
    assert len(data.known_classes) == n_known
    assert_array_equal(data.known_classes, global_recipe(clinc_raw.y_train, ratio, 1))


def test_load_mnist(mnist_home):
    mnist = load_mnist()
    n_train = len(mnist.y_train)  # the 5k subset, or the official IDX files
    assert n_train in (5000, 60000)
    assert mnist.X_train.shape == (n_train, 28, 28) and mnist.X_train.dtype == np.uint8
    assert mnist.X_test.shape == (10000, 28, 28) and mnist.X_test.dtype == np.uint8
    assert mnist.y_train.dtype == np.int64 and mnist.y_test.shape == (10000,)
    if n_train == 5000:
        assert_array_equal(np.bincount(mnist.y_train), [500] * 10)
    assert_array_equal(np.unique(mnist.y_test), np.arange(10))
    y_open = relabel_open_set(mnist.y_test, CAC_MNIST_KNOWN_CLASSES[0])
    assert set(np.unique(y_open)) == {-1, 0, 1, 2, 4, 5, 9}


# --------------------------------------------------------------------------
# load_digits_open_set


def test_load_digits_open_set_default_and_cac_trials():
    X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
    assert X_train.shape[1] == 64 and X_test.shape == (540, 64)
    assert len(np.unique(y_train)) == 6
    assert_array_equal(np.unique(y_train), global_recipe(range(10), 0.6, 0))
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0 and X_test.max() == 1.0
    assert set(np.unique(y_test)) == set(np.unique(y_train)) | {-1}

    X_raw, *_ = load_digits_open_set(random_state=0, scale=False)
    assert X_raw.max() == 16.0
    assert_array_equal(X_raw / 16.0, X_train)

    for known in CAC_MNIST_KNOWN_CLASSES:
        _, _, y_tr, y_te = load_digits_open_set(known_classes=known, random_state=0)
        assert_array_equal(np.unique(y_tr), known)
        assert set(np.unique(y_te)) == set(known) | {-1}


# --------------------------------------------------------------------------
# load_dbpedia


def test_load_dbpedia_raw(dbpedia_home):
    data = load_dbpedia()
    assert (len(data.text_train), len(data.text_dev), len(data.text_test)) == (
        12600,
        700,
        700,
    )
    assert_array_equal(data.known_classes, np.sort(DBPEDIA_CLASSES))
    assert data.unknown_classes.size == 0
    # Labels 1..14 are the class names in the order of DBPEDIA_CLASSES.
    assert set(data.y_train) == set(DBPEDIA_CLASSES)
    assert np.all(np.unique(data.y_test, return_counts=True)[1] == 50)


@pytest.mark.parametrize("n_unknown", [4, 8, 10, None])
def test_load_dbpedia_crosr_protocol(dbpedia_home, n_unknown):
    data = load_dbpedia(n_known_classes=4, n_unknown_classes=n_unknown, random_state=3)
    n_unknown = 10 if n_unknown is None else n_unknown
    order = np.random.RandomState(3).permutation(np.sort(DBPEDIA_CLASSES))
    assert_array_equal(data.known_classes, np.sort(order[:4]))
    assert_array_equal(data.unknown_classes, np.sort(order[4 : 4 + n_unknown]))
    assert set(data.y_train) == set(data.known_classes) == set(data.y_dev)
    assert len(data.text_train) == 3600 and len(data.text_dev) == 200
    assert len(data.text_test) == 50 * (4 + n_unknown)
    assert int(np.sum(data.y_test == -1)) == 50 * n_unknown
    # The same seed draws the same classes whatever the number of unknowns.
    smaller = load_dbpedia(n_known_classes=4, n_unknown_classes=4, random_state=3)
    assert_array_equal(smaller.known_classes, data.known_classes)
    assert set(smaller.unknown_classes) <= set(data.unknown_classes)


def test_load_dbpedia_bad_counts(dbpedia_home):
    with pytest.raises(ValueError, match="at most 2"):
        load_dbpedia(n_known_classes=12, n_unknown_classes=3)
    with pytest.raises(ValueError, match="needs n_known_classes"):
        load_dbpedia(n_unknown_classes=3)
    with pytest.raises(InvalidParameterError, match="n_known_classes"):
        load_dbpedia(n_known_classes=1)


# --------------------------------------------------------------------------
# fetchers, against an HTTP server on the loopback address


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/cut/<path>`` announces the whole file, sends half."""

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/cut/"):
            return super().do_GET()
        body = (Path(self.directory) / self.path[len("/cut/") :]).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.close_connection = True


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A folder served over HTTP on 127.0.0.1: ``(folder, base_url)``."""
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    root = tmp_path / "remote"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _publish(root, name, files):
    """Put ``files`` (file name -> bytes) in ``root/name``; their SHA-256 table."""
    (root / name).mkdir()
    for file_name, content in files.items():
        (root / name / file_name).write_bytes(content)
    return {key: hashlib.sha256(value).hexdigest() for key, value in files.items()}


CLINC_FILES = {
    "train.tsv": (
        b"text\tlabel\nbook a flight\tbook_flight\nwhat is my balance\tbalance\n"
        b"fly me to rome\tbook_flight\nmoney left\tbalance\nsing\tsong\n"
    ),
    "dev.tsv": b"text\tlabel\nplane to oslo\tbook_flight\n",
    "test.tsv": b'text\tlabel\nmy balance\tbalance\n"a ""quote"""\toos\n',
}


@pytest.fixture
def remote_clinc(server, monkeypatch):
    """Small CLINC150 files on the server, the fetcher pointed at them."""
    root, url = server
    table = _publish(root, "clinc150", CLINC_FILES)
    monkeypatch.setitem(_fetchers._BASE_URLS, "clinc150", url + "clinc150/")
    monkeypatch.setitem(_fetchers._SHA256, "clinc150", table)
    return root, url


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def test_fetch_clinc150_downloads_checks_and_loads(remote_clinc, tmp_path):
    root, _ = remote_clinc
    home = tmp_path / "home" / "data"  # created by the fetcher
    data = fetch_clinc150(home, known_ratio=0.5, random_state=0)
    assert _files(home) == ["clinc150", *(f"clinc150/{n}" for n in sorted(CLINC_FILES))]
    for name, content in CLINC_FILES.items():
        assert (home / "clinc150" / name).read_bytes() == content
    expected = load_clinc150(home, known_ratio=0.5, random_state=0)
    assert data.keys() == expected.keys()
    for key in data:
        assert_array_equal(np.asarray(data[key]), np.asarray(expected[key]))
    assert data.text_test[1] == 'a "quote"'

    # Files in place are read, not downloaded again.
    for path in (root / "clinc150").iterdir():
        path.unlink()
    again = fetch_clinc150(home, download_if_missing=False)
    assert len(again.text_train) == 5
    # The environment variable names the data home as for the loaders.
    assert len(fetch_clinc150(str(home)).y_test) == 2


@pytest.mark.parametrize("bad", ["train.tsv", "test.tsv"])
def test_fetch_bad_checksum(remote_clinc, tmp_path, monkeypatch, bad):
    _, url = remote_clinc
    monkeypatch.setitem(_fetchers._SHA256["clinc150"], bad, "0" * 64)
    actual = hashlib.sha256(CLINC_FILES[bad]).hexdigest()
    home = tmp_path / "home"
    with pytest.raises(OSError, match=f"{url}clinc150/{bad}.*{actual}.*{'0' * 64}"):
        fetch_clinc150(home)
    if bad == "train.tsv":  # the first download: nothing is left behind
        assert not home.exists()
    else:  # the checked files stay, the bad one is gone
        assert _files(home) == ["clinc150", "clinc150/dev.tsv", "clinc150/train.tsv"]


def test_fetch_truncated_download(remote_clinc, tmp_path, monkeypatch):
    _, url = remote_clinc
    monkeypatch.setitem(_fetchers._BASE_URLS, "clinc150", url + "cut/clinc150/")
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(OSError, match=f"Incomplete download of {url}cut/clinc150/"):
        fetch_clinc150(home)
    assert _files(home) == []


def test_fetch_http_error(remote_clinc, tmp_path, monkeypatch):
    _, url = remote_clinc
    monkeypatch.setitem(_fetchers._BASE_URLS, "clinc150", url + "nowhere/")
    with pytest.raises(OSError, match=f"{url}nowhere/train.tsv: HTTP error 404"):
        fetch_clinc150(tmp_path / "home")
    assert not (tmp_path / "home").exists()


def test_fetch_no_network(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    monkeypatch.setitem(_fetchers._BASE_URLS, "dbpedia", url)
    with pytest.raises(OSError, match=f"Could not download {url}train.tsv.*network"):
        fetch_dbpedia(tmp_path)
    assert _files(tmp_path) == []


def test_fetch_interrupted(tmp_path, monkeypatch):
    # Ctrl-C in the middle of a download leaves no temporary file.
    class Response(io.BytesIO):
        def __init__(self, body):
            super().__init__(body)
            self.headers = {"Content-Length": str(len(body))}

        def read(self, size=-1):
            if self.tell():
                raise KeyboardInterrupt
            return super().read(10)

    monkeypatch.setattr(
        _fetchers.urllib.request, "urlopen", lambda url, timeout: Response(b"x" * 100)
    )
    (tmp_path / "clinc150").mkdir()
    with pytest.raises(KeyboardInterrupt):
        fetch_clinc150(tmp_path)
    assert _files(tmp_path) == ["clinc150"]


def test_fetch_without_download(tmp_path):
    for fetch in (fetch_clinc150, fetch_dbpedia, fetch_mnist):
        with pytest.raises(FileNotFoundError, match="download_if_missing=False"):
            fetch(tmp_path / "home", download_if_missing=False)
    with pytest.raises(FileNotFoundError, match=r"fetch_mnist\(data_home=...\)"):
        fetch_mnist(tmp_path / "home", download_if_missing=False)
    assert _files(tmp_path) == []
    with pytest.raises(InvalidParameterError, match="download_if_missing"):
        fetch_mnist(tmp_path, download_if_missing="no")
    with pytest.raises(InvalidParameterError, match="known_ratio"):
        fetch_clinc150(tmp_path, known_ratio=2)


def _idx(array):
    """``array`` (uint8) as a gzipped IDX file."""
    header = bytes([0, 0, 8, array.ndim])
    header += b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fetch_mnist_idx_files(server, tmp_path, monkeypatch):
    root, url = server
    rng = np.random.RandomState(0)
    X_train, X_test = (
        rng.randint(256, size=(30, 28, 28)),
        rng.randint(256, size=(20, 28, 28)),
    )
    y_train, y_test = np.arange(30) % 10, np.arange(20) % 10
    table = _publish(
        root,
        "mnist",
        {
            "train-images-idx3-ubyte.gz": _idx(X_train),
            "train-labels-idx1-ubyte.gz": _idx(y_train),
            "t10k-images-idx3-ubyte.gz": _idx(X_test),
            "t10k-labels-idx1-ubyte.gz": _idx(y_test),
        },
    )
    assert table.keys() == _fetchers._SHA256["mnist"].keys()
    monkeypatch.setitem(_fetchers._BASE_URLS, "mnist", url + "mnist/")
    monkeypatch.setitem(_fetchers._SHA256, "mnist", table)

    mnist = fetch_mnist(tmp_path)
    for key, expected in zip(
        ["X_train", "y_train", "X_test", "y_test"], [X_train, y_train, X_test, y_test]
    ):
        assert_array_equal(mnist[key], expected)
    assert mnist.X_train.dtype == np.uint8 and mnist.y_train.dtype == np.int64
    assert mnist.X_train.flags.writeable
    assert_array_equal(load_mnist(tmp_path).X_test, X_test)

    # A damaged IDX file is a clear error.
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(_idx(X_test))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: not an IDX"):
        load_mnist(tmp_path)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(_idx(y_test)[:-3])
    with pytest.raises((ValueError, EOFError)):
        load_mnist(tmp_path)


def test_fetch_mnist_reads_the_offline_subset(tmp_path, monkeypatch):
    # A data home with the npz subset is read as it is: no download.
    monkeypatch.setitem(_fetchers._BASE_URLS, "mnist", "http://127.0.0.1:9/")
    (tmp_path / "mnist").mkdir()
    for part, n in (("train5k", 5), ("test10k", 3)):
        np.savez(
            tmp_path / "mnist" / f"mnist_{part}.npz",
            x=np.zeros((n, 28, 28), np.uint8),
            y=np.arange(n, dtype=np.uint8),
        )
    mnist = fetch_mnist(tmp_path)
    assert mnist.X_train.shape == (5, 28, 28) and mnist.y_test.dtype == np.int64


@pytest.mark.parametrize("name", ["clinc150", "dbpedia"])
def test_fetch_checksums_are_those_of_the_benchmark_files(
    name, server, tmp_path, monkeypatch, request
):
    # The real checksum table against copies of the benchmark files.
    home = request.getfixturevalue(f"{name}_home")
    root, url = server
    shutil.copytree(home / name, root / name)
    monkeypatch.setitem(_fetchers._BASE_URLS, name, url + name + "/")
    fetch = {"clinc150": fetch_clinc150, "dbpedia": fetch_dbpedia}[name]
    data = fetch(tmp_path)
    assert len(data.text_train) == {"clinc150": 15000, "dbpedia": 12600}[name]
    for file_name in ("train.tsv", "dev.tsv", "test.tsv"):
        assert (tmp_path / name / file_name).read_bytes() == (
            home / name / file_name
        ).read_bytes()
