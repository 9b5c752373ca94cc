"""Model selection on a local Dask cluster gives the local results (issue: scale-out).

A ``dask.distributed`` cluster of 2 worker processes on the loopback address
runs the same searches as the local joblib backend, through
``joblib.parallel_config(backend="dask")`` and nothing else.
"""

import distributed
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from sklearn_openset import CACClassifier, MSPClassifier
from sklearn_openset.datasets import make_open_set_blobs
from sklearn_openset.metrics import open_set_f1_scorer
from sklearn_openset.model_selection import PseudoOpenSetSplit, TunedOpenSetThresholdCV


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


@pytest.fixture(scope="module")
def data():
    X, _, y, _ = make_open_set_blobs(
        n_samples=300, n_features=4, n_known_classes=4, random_state=0
    )
    return X.astype(np.float32), y


def _search():
    return GridSearchCV(
        CACClassifier(max_epochs=3, batch_size=32, random_state=0),
        {"lr": [1e-3, 1e-2], "magnitude": [5.0, 10.0]},
        scoring=open_set_f1_scorer,
        cv=PseudoOpenSetSplit(n_splits=2, random_state=0),
        n_jobs=2,
    )


def test_grid_search_of_a_deep_estimator_on_dask_matches_local(client, data):
    X, y = data
    local = _search().fit(X, y)
    with joblib.parallel_config(backend="dask"):
        remote = _search().fit(X, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    # The work went to the workers: each ran tasks.
    assert all(count > 0 for count in _tasks_per_worker(client).values())


def test_threshold_tuner_on_dask_matches_local(client, data):
    X, y = data

    def make():
        return TunedOpenSetThresholdCV(
            MSPClassifier(LogisticRegression()), n_jobs=2, random_state=0
        )

    local = make().fit(X, y)
    with joblib.parallel_config(backend="dask"):
        remote = make().fit(X, y)
    assert remote.threshold_ == local.threshold_
    np.testing.assert_allclose(
        remote.cv_results_["mean_score"], local.cv_results_["mean_score"]
    )


def _tasks_per_worker(client):
    def executed(dask_worker):
        return dask_worker.state.executed_count

    return client.run(executed)
