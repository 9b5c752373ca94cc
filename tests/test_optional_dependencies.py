"""The core install: what works without torch, and what imports it.

``import sklearn_openset`` and the metrics, splitters, MSP, OpenMax over a
scikit-learn estimator and the threshold tuner need numpy, scipy and
scikit-learn only (issue 20). Each check runs in a fresh interpreter, so
that the modules this test session imported do not count.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "skorch", "torchvision", "transformers")

# The core path: every core module imported, MSP, OpenMax over a scikit-learn
# estimator and the threshold tuner fitted, a metric and the splitter used.
CORE_PATH = """
import sklearn_openset, sklearn_openset.metrics, sklearn_openset.model_selection
import sklearn_openset.datasets, sklearn_openset.evt, sklearn_openset.evaluation
import sklearn_openset.utils.estimator_checks, sklearn_openset.active_learning
from sklearn.linear_model import LogisticRegression
from sklearn_openset import MSPClassifier, OpenMaxClassifier
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.metrics import open_set_f1_score, unknown_roc_auc_score
from sklearn_openset.model_selection import PseudoOpenSetSplit, TunedOpenSetThresholdCV

X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
for clf in (
    MSPClassifier(LogisticRegression(max_iter=1000)),
    OpenMaxClassifier(LogisticRegression(max_iter=1000), tail_size=5),
    TunedOpenSetThresholdCV(MSPClassifier(), random_state=0),
):
    clf.fit(X_train, y_train)
    f1 = open_set_f1_score(y_test, clf.predict(X_test), labels=clf.classes_)
    auroc = unknown_roc_auc_score(y_test, clf.score_samples(X_test))
    assert 0 <= f1 <= 1 and 0 <= auroc <= 1, (f1, auroc)
list(PseudoOpenSetSplit(random_state=0).split(X_train, y_train))
"""

# Makes the optional packages missing: a finder first on the meta path that
# refuses them, as if they were not installed.
BLOCK = f"""
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _run(code):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_core_path_imports_no_torch():
    # With the extras installed, the core path still imports none of them.
    out = _run(
        CORE_PATH
        + f"""
import json, sys
print(json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] in {HEAVY!r}
)))
"""
    )
    assert json.loads(out.splitlines()[-1]) == []


def test_core_path_without_torch():
    # torch, skorch, torchvision and transformers missing: the core path runs.
    _run(BLOCK + CORE_PATH)


DEEP_ESTIMATORS = [
    ("sklearn_openset", "CACClassifier", "deep"),
    ("sklearn_openset", "CROSRClassifier", "deep"),
    ("sklearn_openset", "ANSOneVsRestClassifier", "deep"),
    ("sklearn_openset.active_learning", "LfOSASampler", "deep"),
    ("sklearn_openset.feature_extraction", "TextEmbedder", "text"),
]


def test_deep_estimators_without_torch_name_the_extra():
    # Made without torch, a deep estimator raises an ImportError naming the
    # extra; OpenMax's default network raises it when fit builds it; the nn
    # subpackage too.
    out = _run(
        BLOCK
        + f"""
import importlib, json
import numpy as np
from sklearn_openset import OpenMaxClassifier

messages = {{}}
for module, name, _ in {DEEP_ESTIMATORS!r}:
    try:
        getattr(importlib.import_module(module), name)()
    except ImportError as error:
        messages[name] = str(error)
try:
    OpenMaxClassifier().fit(np.eye(4), [0, 0, 1, 1])
except ImportError as error:
    messages["OpenMaxClassifier"] = str(error)
try:
    import sklearn_openset.nn
except ImportError as error:
    messages["nn"] = str(error)
print(json.dumps(messages))
"""
    )
    messages = json.loads(out.splitlines()[-1])
    for _, name, extra in DEEP_ESTIMATORS:
        assert f"pip install 'sklearn-openset[{extra}]'" in messages[name]
        assert messages[name].startswith(f"{name} needs torch")
    assert "sklearn-openset[deep]" in messages["OpenMaxClassifier"]
    assert "sklearn-openset[deep]" in messages["nn"]


def test_evaluate_without_torch_skips_the_deep_estimators():
    # The command in a core install: the scikit-learn estimators run, the
    # torch ones are skipped with a note; one named explicitly is an error.
    code = (
        BLOCK
        + """
import sys
from sklearn_openset._cli import main

sys.exit(main(sys.argv[1:]))
"""
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    run = [sys.executable, "-c", code, "evaluate", "--dataset", "blobs", "--seeds"]
    result = subprocess.run(
        [*run, "0"], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "msp" in result.stdout and "openmax-lr" in result.stdout
    assert "cac" not in result.stdout.split("Total wall time")[0].split("\n", 1)[1]
    assert "Skipping cac: CACClassifier needs torch" in result.stderr
    named = subprocess.run(
        [*run, "0", "--estimators", "cac"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert named.returncode == 2
    assert "sklearn-openset[deep]" in named.stderr


def test_torch_free_names_match_the_torch_tables():
    # The names the constraints take without torch are those of the tables
    # that need it.
    from sklearn_openset._ans import _SYNTHESIS_MODES
    from sklearn_openset._deep._training import _INFERENCE_DTYPES, _OPTIMIZERS
    from sklearn_openset.base import INFERENCE_DTYPE_NAMES, OPTIMIZER_NAMES
    from sklearn_openset.nn._ovr import SYNTHESIS_MODES

    assert set(OPTIMIZER_NAMES) == set(_OPTIMIZERS)
    assert set(INFERENCE_DTYPE_NAMES) == set(_INFERENCE_DTYPES)
    assert set(_SYNTHESIS_MODES) == set(SYNTHESIS_MODES)


def test_device_constraint_takes_a_torch_device():
    torch = pytest.importorskip("torch")
    from sklearn_openset import CACClassifier

    X = torch.randn(20, 3).numpy()
    y = [0, 1] * 10
    CACClassifier(device=torch.device("cpu"), max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="an instance of 'torch.device'"):
        CACClassifier(device=1).fit(X, y)
