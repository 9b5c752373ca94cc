"""Loaders of the benchmark data, read from a local folder (the data home)."""

import csv
import gzip
import math
import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ._split import (
    _OPEN_LABEL,
    _RATIO,
    _TEST_SIZE,
    _isin,
    make_open_set_split,
    relabel_open_set,
    select_known_classes,
)

__all__ = [
    "DATA_HOME_ENV",
    "DBPEDIA_CLASSES",
    "get_data_home",
    "load_clinc150",
    "load_dbpedia",
    "load_digits_open_set",
    "load_mnist",
]

#: Name of the environment variable that points to the data folder.
DATA_HOME_ENV = "SKLEARN_OPENSET_DATA"

#: The 14 DBpedia ontology classes, in the order of the files' labels 1..14.
DBPEDIA_CLASSES = (
    "Company",
    "EducationalInstitution",
    "Artist",
    "Athlete",
    "OfficeHolder",
    "MeanOfTransportation",
    "Building",
    "NaturalPlace",
    "Village",
    "Animal",
    "Plant",
    "Album",
    "Film",
    "WrittenWork",
)


#: The files of each data set in ``<data_home>/<name>/``: one tuple of file
#: names per layout the loader reads, the first the one the fetchers download.
_LAYOUTS = {
    "clinc150": (("train.tsv", "dev.tsv", "test.tsv"),),
    "dbpedia": (("train.tsv", "dev.tsv", "test.tsv"),),
    "mnist": (
        (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ),
        ("mnist_train5k.npz", "mnist_test10k.npz"),
    ),
}


@validate_params(
    {"data_home": [str, os.PathLike, None]},
    prefer_skip_nested_validation=True,
)
def get_data_home(data_home=None):
    """Return the folder that holds the benchmark data.

    The folder is, in order of precedence:

    1. ``data_home``, when given;
    2. the environment variable ``SKLEARN_OPENSET_DATA``, when set;
    3. ``~/sklearn_openset_data``.

    Each data set lies in a subfolder of its name (``clinc150/``,
    ``dbpedia/``, ``mnist/``). The ``load_*`` functions read the files found
    there; the ``fetch_*`` functions download them there first when they are
    missing. The folder is not created here (the fetchers create it).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit data folder. ``~`` is expanded.

    Returns
    -------
    data_home : pathlib.Path
        The data folder.

    Examples
    --------
    >>> from sklearn_openset.datasets import get_data_home
    >>> get_data_home("~/openset-data").name
    'openset-data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or "~/sklearn_openset_data"
    return Path(data_home).expanduser()


def _local_files(data_home, name):
    """Paths of the first complete layout of ``name`` in ``data_home``, or None."""
    folder = get_data_home(data_home) / name
    for layout in _LAYOUTS[name]:
        paths = [folder / file_name for file_name in layout]
        if all(path.is_file() for path in paths):
            return paths
    return None


def _missing_data_message(data_home, name):
    """How to get the files of ``name`` that are not in ``data_home``."""
    folder = get_data_home(data_home) / name
    layouts = " or ".join(", ".join(layout) for layout in _LAYOUTS[name])
    return (
        f"The {name} files are not in {folder} (expected {layouts}). Download "
        f"them with sklearn_openset.datasets.fetch_{name}(data_home=...), or "
        f"point data_home (or the environment variable {DATA_HOME_ENV}) to a "
        f"folder that holds {name}/."
    )


def _data_files(data_home, name):
    """Paths of the files of ``name`` in ``data_home``, checked to exist."""
    paths = _local_files(data_home, name)
    if paths is None:
        raise FileNotFoundError(_missing_data_message(data_home, name))
    return paths


def _read_tsv(path):
    """Read a ``text<TAB>label`` file with a header; CSV quoting as pandas."""
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header != ["text", "label"]:
            raise ValueError(
                f"{path}: expected the header 'text\\tlabel', got {header}."
            )
        for row in reader:
            if len(row) != 2:
                raise ValueError(
                    f"{path}, line {reader.line_num}: expected 2 fields, got {len(row)}."
                )
            texts.append(row[0])
            labels.append(row[1])
    return texts, np.asarray(labels, dtype=str)


def _keep(texts, mask):
    return [text for text, keep in zip(texts, mask) if keep]


_DBPEDIA_PARAMETERS = {
    "data_home": [str, os.PathLike, None],
    "n_known_classes": [Interval(Integral, 2, 13, closed="both"), None],
    "n_unknown_classes": [Interval(Integral, 1, 12, closed="both"), None],
    "random_state": ["random_state"],
    "open_label": _OPEN_LABEL,
}


@validate_params(_DBPEDIA_PARAMETERS, prefer_skip_nested_validation=True)
def load_dbpedia(
    data_home=None,
    *,
    n_known_classes=None,
    n_unknown_classes=None,
    random_state=None,
    open_label=-1,
):
    """Load the 14-class DBpedia subsample, the CROSR paper's text benchmark.

    Reads ``dbpedia/{train,dev,test}.tsv``, TEXTOIR's subsample of the DBpedia
    ontology data set (Zhang et al., 2015): 900 / 50 / 50 texts per class,
    labels ``1``..``14`` returned as the class names of
    :data:`DBPEDIA_CLASSES`.

    With ``n_known_classes``, the CROSR paper's open-set protocol (its Table
    4: 4 known classes, 4, 8 or 10 unknown ones): a permutation of the 14
    sorted class names drawn with ``check_random_state(random_state)``; its
    first ``n_known_classes`` are known and the next ``n_unknown_classes``
    (by default all the others) unknown. Train and dev keep the known rows;
    test keeps the rows of the known and the unknown classes, the latter
    labelled ``open_label``; the remaining classes are left out.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder holding ``dbpedia/``; see :func:`get_data_home`.

    n_known_classes : int in [2, 13], default=None
        Number of known classes (the paper: 4). None returns every class.

    n_unknown_classes : int in [1, 12], default=None
        Number of unknown classes in the test set (the paper: 4, 8 or 10);
        None takes all the classes that are not known. Needs
        ``n_known_classes``.

    random_state : int, RandomState instance or None, default=None
        Seed of the choice of the classes.

    open_label : int or str, default=-1
        Test label of the unknown classes.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the attributes:

        text_train, text_dev, text_test : list of str
            The texts.
        y_train, y_dev : ndarray of str
            Class names.
        y_test : ndarray
            Class names, and ``open_label`` for the unknown classes (object
            dtype for an int ``open_label``) when ``n_known_classes`` is given.
        known_classes, unknown_classes : ndarray of str
            The sorted known and unknown classes (all 14 and none without
            ``n_known_classes``).

    Raises
    ------
    FileNotFoundError
        When a file is missing; the message says how to get it.

    See Also
    --------
    fetch_dbpedia : Download the files first when they are missing.

    Examples
    --------
    >>> from sklearn_openset.datasets import load_dbpedia
    >>> data = load_dbpedia(n_known_classes=4, n_unknown_classes=8, random_state=0)
    >>> len(data.known_classes), len(data.text_train), len(data.text_test)
    (4, 3600, 600)
    >>> int((data.y_test == -1).sum())
    400
    """
    paths = _data_files(data_home, "dbpedia")
    names = np.asarray(DBPEDIA_CLASSES)
    parts = []
    for path in paths:
        texts, labels = _read_tsv(path)
        parts.append((texts, names[labels.astype(int) - 1]))
    (text_train, y_train), (text_dev, y_dev), (text_test, y_test) = parts
    if n_known_classes is None:
        if n_unknown_classes is not None:
            raise ValueError(
                "n_unknown_classes needs n_known_classes: pass both, e.g. "
                "n_known_classes=4, n_unknown_classes=8."
            )
        known, unknown = np.sort(names), names[:0]
    else:
        n_unknown = len(names) - n_known_classes
        if n_unknown_classes is not None:
            if n_unknown_classes > n_unknown:
                raise ValueError(
                    f"n_unknown_classes={n_unknown_classes} but only {n_unknown} of "
                    f"the 14 classes are left beside n_known_classes="
                    f"{n_known_classes}; pass at most {n_unknown}."
                )
            n_unknown = n_unknown_classes
        order = check_random_state(random_state).permutation(np.sort(names))
        known = np.sort(order[:n_known_classes])
        unknown = np.sort(order[n_known_classes : n_known_classes + n_unknown])
        train_mask, dev_mask = _isin(y_train, known), _isin(y_dev, known)
        test_mask = _isin(y_test, known) | _isin(y_test, unknown)
        text_train, y_train = _keep(text_train, train_mask), y_train[train_mask]
        text_dev, y_dev = _keep(text_dev, dev_mask), y_dev[dev_mask]
        text_test = _keep(text_test, test_mask)
        y_test = relabel_open_set(y_test[test_mask], known, open_label=open_label)
    return Bunch(
        text_train=text_train,
        y_train=y_train,
        text_dev=text_dev,
        y_dev=y_dev,
        text_test=text_test,
        y_test=y_test,
        known_classes=known,
        unknown_classes=unknown,
    )


_CLINC150_PARAMETERS = {
    "data_home": [str, os.PathLike, None],
    "known_ratio": [_RATIO, None],
    "random_state": ["random_state"],
    "open_label": _OPEN_LABEL,
}


@validate_params(_CLINC150_PARAMETERS, prefer_skip_nested_validation=True)
def load_clinc150(
    data_home=None, *, known_ratio=None, random_state=None, open_label=-1
):
    """Load CLINC150 in the format of the open intent classification papers.

    Reads ``clinc150/{train,dev,test}.tsv`` (the re-split of
    thuiar/Adaptive-Decision-Boundary: 15000 / 3000 / 5700 rows, 150 intents;
    the test set also holds the 1200 out-of-scope rows labelled ``"oos"``).

    With ``known_ratio``, the TEXTOIR / ADB / ANS protocol: the known intents
    are ``select_known_classes(train_intents, known_ratio=known_ratio,
    random_state=random_state)`` (the papers' ``np.random.seed(seed);
    np.random.choice``); train and dev keep the known-intent rows only; test
    keeps every row, and every label that is not a known intent (``"oos"``
    included) becomes ``open_label``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder holding ``clinc150/``; see :func:`get_data_home`.

    known_ratio : float in (0, 1), default=None
        Fraction of the 150 intents that are known (the papers use 0.25, 0.5
        and 0.75: 38, 75 and 112 intents). None returns the raw labels.

    random_state : int, RandomState instance or None, default=None
        Seed of the choice of the known intents (the papers use 0..9).

    open_label : int or str, default=-1
        Test label of the unknown intents when ``known_ratio`` is given.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the attributes:

        text_train, text_dev, text_test : list of str
            The utterances.
        y_train, y_dev : ndarray of str
            Their intents.
        y_test : ndarray
            Raw intents (str, with ``"oos"``) without ``known_ratio``; with
            it, the known intents and ``open_label`` (object dtype for an int
            ``open_label``).
        known_classes : ndarray of str
            The sorted known intents; all 150 without ``known_ratio``.

    Raises
    ------
    FileNotFoundError
        When a file is missing; the message says how to get it.

    See Also
    --------
    fetch_clinc150 : Download the files first when they are missing.

    Examples
    --------
    >>> from sklearn_openset.datasets import load_clinc150
    >>> data = load_clinc150(known_ratio=0.5, random_state=0)
    >>> len(data.known_classes), len(data.text_train), len(data.text_test)
    (75, 7500, 5700)
    >>> int((data.y_test == -1).sum())
    3450
    """
    paths = _data_files(data_home, "clinc150")
    (text_train, y_train), (text_dev, y_dev), (text_test, y_test) = map(
        _read_tsv, paths
    )
    intents = np.unique(y_train)
    if known_ratio is None:
        known = intents
    else:
        known = select_known_classes(
            intents, known_ratio=known_ratio, random_state=random_state
        )
        train_mask = _isin(y_train, known)
        dev_mask = _isin(y_dev, known)
        text_train, y_train = _keep(text_train, train_mask), y_train[train_mask]
        text_dev, y_dev = _keep(text_dev, dev_mask), y_dev[dev_mask]
        y_test = relabel_open_set(y_test, known, open_label=open_label)
    return Bunch(
        text_train=text_train,
        y_train=y_train,
        text_dev=text_dev,
        y_dev=y_dev,
        text_test=text_test,
        y_test=y_test,
        known_classes=known,
    )


def _read_idx(path, ndim):
    """The uint8 array of a gzipped IDX file (LeCun's MNIST format)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    header = 4 + 4 * ndim
    magic = int.from_bytes(data[:4], "big") if len(data) >= header else None
    # 0x08: unsigned bytes; the last byte of the magic number: the dimensions.
    if magic != 0x0800 + ndim:
        raise ValueError(
            f"{path}: not an IDX file of unsigned bytes with {ndim} "
            "dimension(s); delete it and fetch it again (fetch_mnist)."
        )
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    values = np.frombuffer(data, dtype=np.uint8, offset=header)
    if values.size != math.prod(shape):
        raise ValueError(
            f"{path}: the header announces {shape} values, the file holds "
            f"{values.size}; delete it and fetch it again (fetch_mnist)."
        )
    return values.reshape(shape).copy()


@validate_params(
    {"data_home": [str, os.PathLike, None]},
    prefer_skip_nested_validation=True,
)
def load_mnist(data_home=None):
    """Load MNIST from the data home: the official files or the offline subset.

    Reads ``<data_home>/mnist/``, in this order:

    1. the four official IDX files (``train-images-idx3-ubyte.gz``,
       ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
       ``t10k-labels-idx1-ubyte.gz``), which :func:`fetch_mnist` downloads:
       the 60000 training and 10000 test images;
    2. otherwise the offline subset ``mnist_train5k.npz`` (500 images per
       digit, disjoint from the test set) and ``mnist_test10k.npz`` (the
       official test set), each with the keys ``x`` and ``y``: 5000 training
       and 10000 test images.

    Nothing is downloaded; :func:`fetch_mnist` downloads the IDX files when
    neither layout is there. For the CAC protocol, split the digits with
    :data:`CAC_MNIST_KNOWN_CLASSES` and :func:`relabel_open_set`.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder holding ``mnist/``; see :func:`get_data_home`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the attributes:

        X_train : ndarray of shape (n_train, 28, 28), dtype uint8
            The training images: 60000 from the IDX files, 5000 from the
            subset.
        y_train : ndarray of shape (n_train,), dtype int64
            Their digits.
        X_test : ndarray of shape (10000, 28, 28), dtype uint8
            The official test images.
        y_test : ndarray of shape (10000,), dtype int64
            Their digits.

        Pixels are in 0..255; labels are the digits (stored as uint8, returned
        as int64 so that a negative ``open_label`` fits).

    Raises
    ------
    FileNotFoundError
        When ``mnist/`` holds neither layout; the message says how to get it.

    See Also
    --------
    fetch_mnist : Download the IDX files first when they are missing.

    Examples
    --------
    >>> from sklearn_openset.datasets import load_mnist
    >>> mnist = load_mnist()  # doctest: +SKIP
    >>> mnist.X_train.shape, mnist.X_test.shape  # doctest: +SKIP
    ((5000, 28, 28), (10000, 28, 28))
    """
    paths = _data_files(data_home, "mnist")
    data = Bunch()
    if len(paths) == 4:  # the IDX files
        for part, (images, labels) in zip(("train", "test"), (paths[:2], paths[2:])):
            data[f"X_{part}"] = _read_idx(images, 3)
            data[f"y_{part}"] = _read_idx(labels, 1).astype(np.int64)
            if len(data[f"X_{part}"]) != len(data[f"y_{part}"]):
                raise ValueError(
                    f"{images} and {labels} hold different numbers of samples."
                )
        return data
    for part, path in zip(("train", "test"), paths):
        with np.load(path, allow_pickle=False) as npz:
            data[f"X_{part}"] = npz["x"]
            data[f"y_{part}"] = npz["y"].astype(np.int64)
    return data


@validate_params(
    {
        "known_ratio": [_RATIO, None],
        "known_classes": ["array-like", None],
        "test_size": _TEST_SIZE,
        "open_label": _OPEN_LABEL,
        "random_state": ["random_state"],
        "scale": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_open_set(
    *,
    known_ratio=None,
    known_classes=None,
    test_size=0.3,
    open_label=-1,
    random_state=None,
    scale=True,
):
    """Load scikit-learn's digits as an open-set split (the embedded default).

    The 1797 8x8 digit images of :func:`sklearn.datasets.load_digits`, as 64
    features, split by :func:`make_open_set_split`. Without ``known_ratio``
    and ``known_classes``, 6 of the 10 digits are known (``known_ratio=0.6``),
    as in the 6 known / 4 unknown protocol of the CAC paper; pass
    ``known_classes=CAC_MNIST_KNOWN_CLASSES[i]`` for its fixed trials.

    Parameters
    ----------
    known_ratio : float in (0, 1), default=None
        Fraction of the digits that are known; 0.6 when ``known_classes`` is
        not given either.

    known_classes : array-like, default=None
        The known digits, given explicitly.

    test_size : float in (0, 1) or int, default=0.3
        Fraction (or number) of all images held out for testing.

    open_label : int or str, default=-1
        Test label of the unknown digits.

    random_state : int, RandomState instance or None, default=None
        Seeds the split and the choice of the known digits.

    scale : bool, default=True
        Divide the pixel values (0..16) by 16, to [0, 1].

    Returns
    -------
    X_train : ndarray of shape (n_train, 64)
        Training images of the known digits.

    X_test : ndarray of shape (n_test, 64)
        Test images of all digits.

    y_train : ndarray of shape (n_train,)
        Training digits.

    y_test : ndarray of shape (n_test,)
        Test digits, unknown ones replaced by ``open_label``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.datasets import load_digits_open_set
    >>> X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
    >>> X_train.shape, X_test.shape
    ((753, 64), (540, 64))
    >>> np.unique(y_train)
    array([1, 2, 4, 6, 8, 9])
    """
    if known_ratio is None and known_classes is None:
        known_ratio = 0.6
    digits = load_digits()
    X = digits.data / 16.0 if scale else digits.data
    return make_open_set_split(
        X,
        digits.target,
        known_ratio=known_ratio,
        known_classes=known_classes,
        test_size=test_size,
        open_label=open_label,
        random_state=random_state,
    )
