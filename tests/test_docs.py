"""The API reference lists every public name (docs/api.rst is hand-written
for the subpackages; the estimator, feature extraction, nn and evt tables are
generated), and has a section for every public subpackage."""

import importlib
import pkgutil
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
HAND_WRITTEN = [
    "sklearn_openset.base",
    "sklearn_openset.metrics",
    "sklearn_openset.model_selection",
    "sklearn_openset.datasets",
    "sklearn_openset.evaluation",
    "sklearn_openset.utils.estimator_checks",
]


@pytest.mark.parametrize("module_name", HAND_WRITTEN)
def test_api_reference_lists_every_public_name(module_name):
    text = API.read_text()
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if name not in text]
    assert not missing, f"docs/api.rst does not mention {module_name}: {missing}"


def test_api_reference_has_every_public_subpackage():
    import sklearn_openset

    text = API.read_text()
    subpackages = [
        f"sklearn_openset.{info.name}"
        for info in pkgutil.iter_modules(sklearn_openset.__path__)
        if info.ispkg and not info.name.startswith("_")
    ]
    missing = [
        name
        for name in subpackages
        # utils is internal; its public part is utils.estimator_checks.
        if name != "sklearn_openset.utils"
        and f"automodule:: {name}\n" not in text
        and f"py:module:: {name}\n" not in text
    ]
    assert not missing, f"docs/api.rst has no section for {missing}"


#: The one command that builds the documentation, wherever it is given.
DOCS_BUILD = "python -m sphinx -W --keep-going -b html docs docs/_build/html"


@pytest.mark.parametrize(
    "path", ["README.rst", "docs/install.rst", "docs/conf.py", ".ci/run"]
)
def test_one_docs_build_command(path):
    root = API.parents[1]
    assert DOCS_BUILD in (root / path).read_text(), (
        f"{path} does not give the docs build command {DOCS_BUILD!r}"
    )
