"""Fetchers: download the benchmark data into the data home, then load it.

Each ``fetch_<name>`` makes sure that ``<data_home>/<name>/`` holds the files
that ``load_<name>`` reads, downloading the missing ones from the data set's
public source, then returns what ``load_<name>`` returns: one code path to
read the data, whether it was downloaded or put there by hand.

A download goes to a temporary file in the target folder while its SHA-256 is
computed; it is moved to its name (``os.replace``) only when the checksum is
the expected one, and deleted on any failure (network error, HTTP error,
truncated body, wrong checksum, interruption). So the data home never holds
half a file, and a file there under its name is a checked one (the fetchers
do not hash it again).
"""

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from sklearn.utils._param_validation import validate_params

from ._loaders import (
    _CLINC150_PARAMETERS,
    _DBPEDIA_PARAMETERS,
    _local_files,
    _missing_data_message,
    get_data_home,
    load_clinc150,
    load_dbpedia,
    load_mnist,
)

__all__ = ["fetch_clinc150", "fetch_dbpedia", "fetch_mnist"]

# TEXTOIR (thuiar/TEXTOIR), pinned to the commit whose files these are, so that
# the checksums below stay valid. Its data/oos folder is the CLINC150 re-split
# of thuiar/Adaptive-Decision-Boundary (the ADB / ANS papers' files; TEXTOIR's
# data/clinc folder is another split); data/dbpedia is its 14-class DBpedia
# subsample (the CROSR paper's text benchmark).
_TEXTOIR = (
    "https://raw.githubusercontent.com/thuiar/TEXTOIR/"
    "f1e0b24ddf16bc6ebf2763ef5ab27d01a2bd3a17/data/"
)

#: Where each data set's files are downloaded from: ``url = base + file name``.
#: MNIST: the mirror torchvision downloads from (LeCun's own site is no
#: longer reliable); the files are the official ones.
_BASE_URLS = {
    "clinc150": _TEXTOIR + "oos/",
    "dbpedia": _TEXTOIR + "dbpedia/",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
}

#: The SHA-256 of every file a fetcher downloads, by data set and file name:
#: those of the published files (for CLINC150 and DBpedia, of the files at
#: the pinned TEXTOIR commit; for MNIST, of the four official IDX archives).
_SHA256 = {
    "clinc150": {
        "train.tsv": "118f91b1913102683ea3c6533b8cf9b7715a370c72916c6723fc113073db2724",
        "dev.tsv": "1521dc5f6257aecc8f49fbbeba9d84183b9971d93643474773acce1b5db94433",
        "test.tsv": "985b661390dde5b953d5a740a306cc17eeaaeebdcf2e52d1515e91e85d1904a3",
    },
    "dbpedia": {
        "train.tsv": "bb37ac94f6ca25a0a56ee6891929adbbe6263d3cde8c3072486d33d468e5a054",
        "dev.tsv": "5a00d383c27a649396014f2d0c1f872d47e93c7d200b9d5f8d5dac476cec2129",
        "test.tsv": "5c11329c0bf5a8dbb73803ce1f7c492a983e13d534af65797953749837e227c8",
    },
    "mnist": {
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
}

#: Seconds without an answer before a download gives up.
_TIMEOUT = 60

_CHUNK = 1 << 16


def _download(url, path, sha256):
    """Download ``url`` to ``path`` if its SHA-256 is ``sha256``.

    The bytes go to a temporary file beside ``path``, hashed while written;
    the file is moved to ``path`` when the checksum matches and deleted on
    any failure.

    Raises
    ------
    OSError
        The download failed (network, HTTP status, truncated body) or the
        file's checksum is not ``sha256``; the message names the URL.
    """
    path = Path(path)
    advice = (
        f"Nothing was written to {path.parent}. Retry later, or download {url} "
        f"by other means and put it at {path}: the fetcher then reads it "
        "without downloading."
    )
    fd, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part", dir=path.parent
    )
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:
                    length = response.headers.get("Content-Length")
                    while chunk := response.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
            except urllib.error.HTTPError as exc:
                raise OSError(
                    f"Could not download {url}: HTTP error {exc.code} "
                    f"({exc.reason}). {advice}"
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                raise OSError(
                    f"Could not download {url}: {reason!s}. Check the network "
                    f"connection. {advice}"
                ) from exc
        if length is not None and received != int(length):
            raise OSError(
                f"Incomplete download of {url}: {received} of {length} bytes "
                f"received (the connection was cut). {advice}"
            )
        actual = digest.hexdigest()
        if actual != sha256:
            raise OSError(
                f"The file downloaded from {url} has the SHA-256 checksum "
                f"{actual}, expected {sha256}: it was deleted (a corrupted or "
                f"changed file, or an error page from a proxy). {advice}"
            )
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def _fetch(name, data_home, download_if_missing):
    """Make ``<data_home>/<name>/`` hold the files ``load_<name>`` reads.

    Nothing is downloaded when the folder holds a complete layout of the
    loader; otherwise the files of ``_SHA256[name]`` that are missing are.
    """
    if _local_files(data_home, name) is not None:
        return
    if not download_if_missing:
        raise FileNotFoundError(
            _missing_data_message(data_home, name)
            + " download_if_missing=False: nothing was downloaded."
        )
    folder = get_data_home(data_home) / name
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for file_name, sha256 in _SHA256[name].items():
            if not (folder / file_name).is_file():
                _download(_BASE_URLS[name] + file_name, folder / file_name, sha256)
    except BaseException:
        for path in created:  # the folders made here, deepest first, if empty
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


_FETCH_PARAMETERS = {
    "data_home": [str, os.PathLike, None],
    "download_if_missing": ["boolean"],
}


@validate_params(
    {**_CLINC150_PARAMETERS, **_FETCH_PARAMETERS},
    prefer_skip_nested_validation=True,
)
def fetch_clinc150(
    data_home=None,
    *,
    download_if_missing=True,
    known_ratio=None,
    random_state=None,
    open_label=-1,
):
    """Load CLINC150 (TEXTOIR / ADB format), downloading it when missing.

    When ``<data_home>/clinc150/`` lacks ``train.tsv``, ``dev.tsv`` or
    ``test.tsv``, they are downloaded from TEXTOIR (thuiar/TEXTOIR,
    ``data/oos``, at a pinned commit: the re-split of CLINC150 by
    thuiar/Adaptive-Decision-Boundary that the open intent papers use) and
    their SHA-256 checked; then :func:`load_clinc150` reads them.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home` (default
        ``$SKLEARN_OPENSET_DATA``, else ``~/sklearn_openset_data``).

    download_if_missing : bool, default=True
        Download the missing files. If False, a missing file raises
        :class:`FileNotFoundError`.

    known_ratio : float in (0, 1), default=None
        As in :func:`load_clinc150`.

    random_state : int, RandomState instance or None, default=None
        As in :func:`load_clinc150`.

    open_label : int or str, default=-1
        As in :func:`load_clinc150`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        What :func:`load_clinc150` returns: ``text_train``, ``y_train``,
        ``text_dev``, ``y_dev``, ``text_test``, ``y_test`` and
        ``known_classes``.

    Raises
    ------
    FileNotFoundError
        When files are missing and ``download_if_missing=False``.
    OSError
        When a download fails or its checksum is wrong (nothing is left
        behind); the message names the URL.

    See Also
    --------
    load_clinc150 : Read the files already in the data home.

    Examples
    --------
    >>> from sklearn_openset.datasets import fetch_clinc150
    >>> data = fetch_clinc150(known_ratio=0.5, random_state=0)  # doctest: +SKIP
    >>> len(data.known_classes), len(data.text_train)  # doctest: +SKIP
    (75, 7500)
    """
    _fetch("clinc150", data_home, download_if_missing)
    return load_clinc150(
        data_home,
        known_ratio=known_ratio,
        random_state=random_state,
        open_label=open_label,
    )


@validate_params(
    {**_DBPEDIA_PARAMETERS, **_FETCH_PARAMETERS},
    prefer_skip_nested_validation=True,
)
def fetch_dbpedia(
    data_home=None,
    *,
    download_if_missing=True,
    n_known_classes=None,
    n_unknown_classes=None,
    random_state=None,
    open_label=-1,
):
    """Load the 14-class DBpedia subsample, downloading it when missing.

    When ``<data_home>/dbpedia/`` lacks ``train.tsv``, ``dev.tsv`` or
    ``test.tsv``, they are downloaded from TEXTOIR (thuiar/TEXTOIR,
    ``data/dbpedia``, at a pinned commit) and their SHA-256 checked; then
    :func:`load_dbpedia` reads them.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.

    download_if_missing : bool, default=True
        Download the missing files. If False, a missing file raises
        :class:`FileNotFoundError`.

    n_known_classes : int in [2, 13], default=None
        As in :func:`load_dbpedia`.

    n_unknown_classes : int in [1, 12], default=None
        As in :func:`load_dbpedia`.

    random_state : int, RandomState instance or None, default=None
        As in :func:`load_dbpedia`.

    open_label : int or str, default=-1
        As in :func:`load_dbpedia`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        What :func:`load_dbpedia` returns.

    Raises
    ------
    FileNotFoundError
        When files are missing and ``download_if_missing=False``.
    OSError
        When a download fails or its checksum is wrong (nothing is left
        behind); the message names the URL.

    See Also
    --------
    load_dbpedia : Read the files already in the data home.

    Examples
    --------
    >>> from sklearn_openset.datasets import fetch_dbpedia
    >>> data = fetch_dbpedia(n_known_classes=4, random_state=0)  # doctest: +SKIP
    >>> len(data.known_classes), len(data.text_train)  # doctest: +SKIP
    (4, 3600)
    """
    _fetch("dbpedia", data_home, download_if_missing)
    return load_dbpedia(
        data_home,
        n_known_classes=n_known_classes,
        n_unknown_classes=n_unknown_classes,
        random_state=random_state,
        open_label=open_label,
    )


@validate_params(_FETCH_PARAMETERS, prefer_skip_nested_validation=True)
def fetch_mnist(data_home=None, *, download_if_missing=True):
    """Load MNIST, downloading the official IDX files when none is there.

    When ``<data_home>/mnist/`` holds neither layout that
    :func:`load_mnist` reads, the four official IDX archives
    (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``, 11 MB in
    all) are downloaded from the mirror torchvision uses
    (``https://ossci-datasets.s3.amazonaws.com/mnist/``) and their SHA-256
    checked; then :func:`load_mnist` reads the folder. So a data home that
    already holds the offline 5k subset (``mnist_train5k.npz``,
    ``mnist_test10k.npz``) is read as it is, without a download.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.

    download_if_missing : bool, default=True
        Download the IDX files when no MNIST files are there. If False, that
        case raises :class:`FileNotFoundError`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        What :func:`load_mnist` returns: ``X_train``, ``y_train``,
        ``X_test``, ``y_test`` (60000 training images from the IDX files).

    Raises
    ------
    FileNotFoundError
        When no MNIST files are there and ``download_if_missing=False``.
    OSError
        When a download fails or its checksum is wrong (nothing is left
        behind); the message names the URL.

    See Also
    --------
    load_mnist : Read the files already in the data home.

    Examples
    --------
    >>> from sklearn_openset.datasets import fetch_mnist
    >>> mnist = fetch_mnist()  # doctest: +SKIP
    >>> mnist.X_train.shape, mnist.X_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000, 28, 28))
    """
    _fetch("mnist", data_home, download_if_missing)
    return load_mnist(data_home)
