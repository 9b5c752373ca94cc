import os
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from sklearn_openset.datasets import DATA_HOME_ENV, get_data_home
from sklearn_openset.datasets._loaders import _local_files

# One thread (torch and BLAS) keeps the suite fast and reproducible on 2-core
# CI machines, where oversubscribed BLAS threads make tiny fits 100x slower.
torch.set_num_threads(1)
threadpool_limits(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The benchmark data lies beside this project's checkout (and CI's clone), in
# ``<repo>/../shared/data``; the library never looks there, the tests point
# the data home at it explicitly (unless SKLEARN_OPENSET_DATA says otherwise).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if SHARED_DATA.is_dir():
    os.environ.setdefault(DATA_HOME_ENV, str(SHARED_DATA))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA, which is not available here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture(scope="module")
def blobs(request):
    """An open-set problem from make_open_set_blobs, with the test module's
    ``BLOBS`` parameters: ``(X_train, X_test, y_train, y_test)``."""
    from sklearn_openset.datasets import make_open_set_blobs

    return make_open_set_blobs(**getattr(request.module, "BLOBS", {"random_state": 0}))


def _data_home_with(name):
    """The data home, when it holds the ``name`` data set; else skip the test."""
    if _local_files(None, name) is None:
        pytest.skip(
            f"benchmark data not found: no {name}/ files in the data home "
            f"{get_data_home()}. Set {DATA_HOME_ENV} to a folder that holds "
            f"{name}/, or run sklearn_openset.datasets.fetch_{name}() (network)."
        )
    return get_data_home()


@pytest.fixture(scope="session")
def clinc150_home():
    """The data home holding CLINC150 (test skipped without it)."""
    return _data_home_with("clinc150")


@pytest.fixture(scope="session")
def dbpedia_home():
    """The data home holding DBpedia (test skipped without it)."""
    return _data_home_with("dbpedia")


@pytest.fixture(scope="session")
def mnist_home():
    """The data home holding MNIST (test skipped without it)."""
    return _data_home_with("mnist")
