"""The optional dependencies: torch and skorch (``deep``), transformers (``text``).

``import sklearn_openset`` needs numpy, scipy and scikit-learn only. The
estimators that train a torch network import torch and skorch where they
build or fit it, through :func:`import_torch`; those that always need torch
call :func:`check_deep_install` in ``__init__`` (a look-up of the installed
packages, importing nothing), so that a missing extra is an ``ImportError``
naming it as soon as the estimator is made.
"""

import importlib
import importlib.util
import sys

from sklearn.utils._param_validation import HasMethods

#: The packages the library imports from each extra (``text`` includes ``deep``:
#: ``TextEmbedder`` fine-tunes through skorch).
EXTRAS = {
    "deep": ("torch", "skorch"),
    "text": ("torch", "skorch", "transformers"),
}


def _installed(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken or half-imported package
        return False


def _missing_message(what, extra, missing):
    return (
        f"{what} needs {' and '.join(missing)}, which "
        f"{'is' if len(missing) == 1 else 'are'} not installed: "
        f"pip install 'sklearn-openset[{extra}]'"
    )


def check_extra(what, extra="deep", packages=None):
    """Raise an ``ImportError`` naming ``extra`` when one of its packages is missing.

    Imports nothing: it only looks for the packages, so it is cheap enough for
    an estimator's ``__init__`` (it sets no attribute).

    Parameters
    ----------
    what : str
        What needs the extra, for the message (e.g. the estimator's name).
    extra : {"deep", "text"}, default="deep"
        The extra of ``sklearn-openset`` that brings the packages.
    packages : tuple of str, default=None
        The packages needed, when only some of the extra's: all of them when
        None.
    """
    packages = EXTRAS[extra] if packages is None else packages
    missing = [name for name in packages if not _installed(name)]
    if missing:
        raise ImportError(_missing_message(what, extra, missing))


def check_deep_install(estimator):
    """:func:`check_extra` of the ``deep`` extra for ``estimator`` (an instance)."""
    check_extra(type(estimator).__name__, "deep")


def import_torch(what="This estimator"):
    """Import and return torch, or raise an ``ImportError`` naming the ``deep`` extra.

    Also checks that skorch is there, which every torch estimator trains with.
    """
    check_extra(what, "deep")
    return importlib.import_module("torch")


class TorchDeviceConstraint(HasMethods):
    """Parameter constraint: a ``torch.device``, checked without importing torch.

    A ``torch.device`` can exist only once torch is imported, so the check
    looks torch up in :data:`sys.modules`.
    """

    def __init__(self):
        super().__init__([])

    def is_satisfied_by(self, val):
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(val, torch.device)

    def __str__(self):
        return "an instance of 'torch.device'"
