"""Open-set splits, a synthetic generator and loaders of the benchmark data.

The splits follow the papers' protocols: known classes drawn at a ratio with a
seed (:func:`select_known_classes`), the unknown classes removed from training
and their test labels mapped to ``open_label`` (:func:`make_open_set_split`).
The ``load_*`` functions read the benchmark files in the data home
(:func:`get_data_home`) and never download; the ``fetch_*`` functions download
the missing files from the data sets' public sources (checksummed) first.
"""

from ._fetchers import fetch_clinc150, fetch_dbpedia, fetch_mnist
from ._loaders import (
    DATA_HOME_ENV,
    DBPEDIA_CLASSES,
    get_data_home,
    load_clinc150,
    load_dbpedia,
    load_digits_open_set,
    load_mnist,
)
from ._split import (
    CAC_MNIST_KNOWN_CLASSES,
    make_open_set_split,
    relabel_open_set,
    select_known_classes,
)
from ._synthetic import make_open_set_blobs

__all__ = [
    "CAC_MNIST_KNOWN_CLASSES",
    "DATA_HOME_ENV",
    "DBPEDIA_CLASSES",
    "fetch_clinc150",
    "fetch_dbpedia",
    "fetch_mnist",
    "get_data_home",
    "load_clinc150",
    "load_dbpedia",
    "load_digits_open_set",
    "load_mnist",
    "make_open_set_blobs",
    "make_open_set_split",
    "relabel_open_set",
    "select_known_classes",
]
