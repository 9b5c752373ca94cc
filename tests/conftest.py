import os

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

# One thread (torch and BLAS) keeps the suite fast and reproducible on 2-core
# CI machines, where oversubscribed BLAS threads make tiny fits 100x slower.
torch.set_num_threads(1)
threadpool_limits(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
