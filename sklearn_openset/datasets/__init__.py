"""Open-set splits, a synthetic generator and loaders of the benchmark data.

The splits follow the papers' protocols: known classes drawn at a ratio with a
seed (:func:`select_known_classes`), the unknown classes removed from training
and their test labels mapped to ``open_label`` (:func:`make_open_set_split`).
The loaders read local files and never download.
"""

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
