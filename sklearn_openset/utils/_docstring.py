"""Docstring blocks shared by the estimators, written once.

The parameters that several estimators share (the deep estimators' training
parameters, ``open_label``, ...) and the fitted attributes they share
(``classes_``, ``threshold_``, ...) are described here, once; an estimator's
docstring names them by a placeholder line, ``{max_epochs}``, and
:class:`Substitution` puts the block there, indented like the placeholder,
with the ``default=`` of the class's own signature. Lines indented below the
placeholder continue the block's description with what is particular to the
estimator. As imbalanced-learn's ``Substitution`` (``imblearn/utils/
_docstring.py``), but a placeholder is a whole line, so that the rest of a
docstring (LaTeX braces, sets such as ``{"sgd", "adam"}``, ``%`` signs) is
never touched.
"""

import inspect
import math
import re

__all__ = ["SHARED_ATTRIBUTES", "SHARED_PARAMETERS", "Substitution"]

#: Whole-line placeholders: ``{name}`` alone on its line.
_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>\w+)\}[ \t]*$", re.MULTILINE)

#: Shared parameter blocks. ``{default}`` becomes ``, default=<value>`` from
#: the decorated class's signature (nothing for a class without the parameter,
#: such as a base class).
SHARED_PARAMETERS = {
    "max_epochs": """\
max_epochs : int{default}
    Number of passes over the training data. 0 trains nothing: ``fit``
    takes ``module`` as given (a network trained elsewhere) and does only
    what follows training.""",
    "lr": """\
lr : float{default}
    Learning rate of the optimizer.""",
    "batch_size": """\
batch_size : int{default}
    Samples per training step; inference runs in batches of this size too.""",
    "optimizer": """\
optimizer : {{"sgd", "adam", "adamw"}} or optimizer class{default}
    ``"sgd"`` is SGD with momentum 0.9; ``"adam"`` and ``"adamw"`` are
    torch's, with their defaults besides ``lr``. A ``torch.optim.Optimizer``
    class is given to skorch as it is, with ``lr``.""",
    "device": """\
device : {{"cpu", "cuda", "auto"}} or str{default}
    Where the network is trained and run; a torch device string such as
    ``"cuda:1"`` also works. ``"auto"`` takes CUDA when available. A CUDA
    device where there is none is a ``ValueError`` in ``fit``.""",
    "inference_dtype": """\
inference_dtype : {{"float32", "float64"}} or None{default}
    Precision of inference (``predict``, ``score_samples``, ...). ``None``
    runs the network in its own precision (float32): a sample's scores then
    depend on the other samples of its batch only through float32 rounding
    (see :meth:`~sklearn_openset.base.BaseTorchEstimator._forward`).
    ``"float64"`` runs a float64 copy: batch-independent to 1e-12, several
    times slower for convolutions.""",
    "callbacks": """\
callbacks : list of skorch callbacks or None{default}
    Extra skorch callbacks or ``(name, callback)`` pairs, deep-copied in
    ``fit`` and run after those the method adds itself (loss terms,
    schedules), e.g. an ``EarlyStopping``.""",
    "verbose": """\
verbose : int{default}
    Above 0, skorch prints the epoch table and a progress bar.""",
    "random_state": """\
random_state : int, RandomState instance or None{default}
    Seeds numpy and torch in ``fit`` (torch under ``fork_rng``: the global
    torch random state is left as it was); on CPU the same seed gives the
    same predictions.""",
    "open_label": """\
open_label : int or str{default}
    Label predicted for rejected inputs. It must not be a class label:
    ``fit`` raises a ``ValueError`` when ``y`` contains it.""",
}

#: Shared fitted-attribute blocks.
SHARED_ATTRIBUTES = {
    "classes_": """\
classes_ : ndarray of shape (n_classes,)
    The known classes, sorted: the labels of ``y`` in ``fit``.""",
    "threshold_": """\
threshold_ : float
    The threshold on :meth:`score_samples` in use: ``threshold`` itself, the
    calibrated value for ``"auto"``, ``-inf`` for ``None``.""",
    "n_features_in_": """\
n_features_in_ : int
    Number of features seen in ``fit``: the size of the second axis of ``X``
    (the channels, for images).""",
    "input_shape_": """\
input_shape_ : tuple
    Shape of one training sample, ``X.shape[1:]``; prediction refuses inputs
    of another shape.""",
}


def _format_default(value):
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and math.isnan(value):
        return "np.nan"
    return repr(value)


class Substitution:
    """Decorator filling a docstring's placeholder lines with shared blocks.

    Each ``{name}`` alone on a line of the decorated object's docstring is
    replaced by ``blocks[name]``, every line indented like the placeholder.
    ``{default}`` in a block becomes ``, default=<value>`` with the default of
    the parameter ``name`` in the object's signature (the ``__init__`` of a
    class), or nothing where the signature has no such parameter. Other
    braces of a block are written doubled (``{{"cpu", "cuda"}}``).

    A placeholder with no block, or a block that names no placeholder, is a
    ``ValueError`` at import, so that a typo cannot leave a parameter
    undocumented. An object without a docstring (``python -OO``) is
    returned as it is.

    Parameters
    ----------
    **blocks : str
        The blocks, by placeholder name. Without any, every block of
        :data:`SHARED_PARAMETERS` and :data:`SHARED_ATTRIBUTES` is available
        and only those named by a placeholder are used.

    Examples
    --------
    >>> from sklearn_openset.utils._docstring import Substitution
    >>> @Substitution()
    ... class Model:
    ...     '''A model.
    ...
    ...     Parameters
    ...     ----------
    ...     {max_epochs}
    ...         Ten are enough here.
    ...     '''
    ...     def __init__(self, max_epochs=10):
    ...         self.max_epochs = max_epochs
    >>> print(Model.__doc__.strip())
    A model.
    <BLANKLINE>
        Parameters
        ----------
        max_epochs : int, default=10
            Number of passes over the training data.
            Ten are enough here.
    """

    def __init__(self, **blocks):
        self.strict = bool(blocks)
        self.blocks = blocks or {**SHARED_PARAMETERS, **SHARED_ATTRIBUTES}

    def __call__(self, obj):
        doc = obj.__doc__
        if not doc:
            return obj
        try:
            parameters = inspect.signature(obj).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins
            parameters = {}
        used = set()

        def fill(match):
            name, indent = match["name"], match["indent"]
            if name not in self.blocks:
                raise ValueError(
                    f"The docstring of {obj.__qualname__} has a placeholder "
                    f"{{{name}}} for which no shared block exists; known blocks: "
                    f"{sorted(self.blocks)}."
                )
            used.add(name)
            default = ""
            parameter = parameters.get(name)
            if parameter is not None and parameter.default is not parameter.empty:
                default = f", default={_format_default(parameter.default)}"
            block = self.blocks[name].format(default=default)
            return "\n".join(
                indent + line if line else "" for line in block.split("\n")
            )

        obj.__doc__ = _PLACEHOLDER.sub(fill, doc)
        unused = set(self.blocks) - used
        if self.strict and unused:
            raise ValueError(
                f"Substitution of {obj.__qualname__}: no placeholder for "
                f"{sorted(unused)}."
            )
        return obj
