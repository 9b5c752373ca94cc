"""Base classes: the open-set classifier mixin and the torch-estimator bases.

- :class:`OpenSetClassifierMixin` gives every open-set classifier its
  ``predict`` (a known class or ``open_label``), ``score`` (open-set accuracy)
  and the one threshold rule.
- :class:`BaseTorchEstimator` owns what every estimator that trains or runs a
  torch module shares, open-set classifier or not (``TextEmbedder``, the
  LfOSA detector): the device, seeding under ``fork_rng``, building and
  training the skorch net, the fast array batches, progress and inference.
- :class:`BaseDeepOpenSetClassifier` is both: label encoding, the check that
  the module gives one logit per class, the held-out split.

Method files own only their method.
"""

import contextlib
import copy
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .utils._docstring import Substitution
from .utils._optional import TorchDeviceConstraint, import_torch
from .utils._validation import (
    encode_known_labels,
    encode_open_set,
    labels_with_open,
)

__all__ = [
    "BaseDeepOpenSetClassifier",
    "BaseTorchEstimator",
    "OpenSetClassifierMixin",
]


#: The names ``optimizer`` takes (the optimizers are in ``_deep/_training.py``).
OPTIMIZER_NAMES = ("sgd", "adam", "adamw")

#: The names ``inference_dtype`` takes, besides ``None``.
INFERENCE_DTYPE_NAMES = ("float32", "float64")

#: Share of the chosen known samples that ``threshold="auto"`` accepts: the
#: threshold is the ``1 - AUTO_ACCEPT_RATE`` quantile of their scores.
AUTO_ACCEPT_RATE = 0.95

#: The constraint of a ``threshold`` parameter that may be any score: a number
#: (NaN refused; -inf rejects nothing), ``"auto"`` or ``None`` (no threshold).
THRESHOLD_CONSTRAINT = [
    Interval(Real, None, None, closed="neither"),
    StrOptions({"auto"}),
    None,
]


class OpenSetClassifierMixin(ClassifierMixin):
    """Mixin for classifiers that may answer ``open_label`` for unknown inputs.

    ``threshold`` has one meaning for every estimator: it is in the units of
    :meth:`score_samples`, and :meth:`predict` rejects an input where
    ``score_samples(X) < threshold_``, plus a rule of the method's own where
    its paper gives one and its docstring names it. So ``threshold_`` can be
    chosen from ``score_samples`` alone, without refitting.

    A subclass sets ``classes_`` in ``fit`` and ``threshold_`` with
    :meth:`_calibrate_threshold`, and implements ``_open_set_parts(X)``,
    returning the index in ``classes_`` of the closed-set decision, the
    known-ness score of every sample (higher means more like the known
    classes) and the method's own rejection mask (``None`` for none). The
    mixin then provides:

    - ``predict``: the closed-set class, or ``open_label`` where
      ``score < threshold_`` or the method's own rule rejects;
    - ``score_samples``: the known-ness score;
    - ``score``: open-set accuracy, where labels of ``y`` that are not in
      ``classes_`` count as ``open_label``.
    """

    def _open_set_parts(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _open_set_decision(self, X):
        """Closed-set index and rejection mask of every sample."""
        class_index, known_score, own_rejection = self._open_set_parts(X)
        reject = known_score < self.threshold_
        if own_rejection is not None:
            reject |= own_rejection
        return class_index, reject

    def predict(self, X):
        """Predict a known class, or ``open_label`` for inputs judged unknown.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``, or ``open_label`` for rejected inputs.
            The dtype holds both (object when the classes are strings and
            ``open_label`` is an int).
        """
        check_is_fitted(self)
        class_index, reject = self._open_set_decision(X)
        return labels_with_open(self.classes_, class_index, reject, self.open_label)

    def score_samples(self, X):
        """Known-ness score: higher means more like the known classes.

        This follows scikit-learn's outlier detectors. The score of an
        unknown input, e.g. for :func:`~sklearn_openset.metrics.unknown_roc_auc_score`,
        is its negative. ``predict`` rejects where it is below ``threshold_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._open_set_parts(X)[1]

    def score(self, X, y, sample_weight=None):
        """Open-set accuracy on ``X``.

        Labels of ``y`` that are not in ``classes_`` count as ``open_label``:
        predicting ``open_label`` for them is right.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels, known classes or anything else for unknown inputs.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        return float(
            accuracy_score(
                encode_open_set(y, self.classes_),
                encode_open_set(self.predict(X), self.classes_),
                sample_weight=sample_weight,
            )
        )

    def _fit_labels(self, y, min_classes=2):
        """Set ``classes_`` and return ``y`` encoded as ``0..n_classes-1``."""
        self.classes_, y_encoded = encode_known_labels(
            y, self.open_label, min_classes=min_classes
        )
        return y_encoded

    def _calibrate_threshold(self, scores=None, accepted=None):
        """Set and return ``threshold_``, in the units of ``score_samples``.

        The one rule of ``threshold="auto"`` for every estimator: accept
        :data:`AUTO_ACCEPT_RATE` (95 %) of the chosen known samples, i.e. the
        threshold is the 5 % quantile of their ``scores``. The method chooses
        the samples (training rows, or its held-out rows) and passes their
        scores; ``accepted`` marks the ones to calibrate on (the correctly
        classified ones); where it marks none (a failed training), all of
        ``scores`` are used. A number is taken as it is; ``None`` is no
        threshold (``-inf``: only the method's own rule rejects).
        """
        if self.threshold is None:
            self.threshold_ = -np.inf
        elif isinstance(self.threshold, str):
            scores = np.asarray(scores if scores is not None else [], dtype=float)
            if accepted is not None and np.any(accepted):
                scores = scores[np.asarray(accepted, dtype=bool)]
            if scores.size == 0:
                raise ValueError(
                    "threshold='auto' needs known samples to calibrate on and got "
                    "none; pass a number as threshold."
                )
            self.threshold_ = float(np.quantile(scores, 1.0 - AUTO_ACCEPT_RATE))
        else:
            self.threshold_ = float(self.threshold)
        return self.threshold_


# -- the torch base ------------------------------------------------------------------
class BaseTorchEstimator(BaseEstimator):
    """Base of every estimator that trains or runs a torch module with skorch.

    It is not an open-set classifier: :class:`BaseDeepOpenSetClassifier`
    adds that, ``TextEmbedder`` is a transformer built on it. It owns the
    ``device`` (``"auto"`` takes CUDA when available; a CUDA device where
    there is none is a clear error at fit time), seeding torch from
    ``random_state`` inside :func:`torch.random.fork_rng` (the global torch
    random state is left as it was, in ``fit`` and at inference), building
    and training the skorch net (callbacks, progress, optimizer names),
    the fast array batches, and inference through skorch's ``forward_iter``.

    Parameters read from the subclass: ``device``, ``verbose``,
    ``random_state``; ``callbacks``, ``module`` and ``inference_dtype`` where
    it has them; for :meth:`_fit_net` the training parameters of
    :meth:`_training_params` (by default ``optimizer``, ``lr``,
    ``max_epochs`` and ``batch_size``).

    torch and skorch are imported by the methods that build, train or run the
    network (through :func:`~sklearn_openset.utils._optional.import_torch`,
    whose ``ImportError`` names the ``deep`` extra), never when the class is
    defined: ``import sklearn_openset`` needs neither.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self._uses_network() and self._device_name() != "cpu"
        return tags

    def _uses_network(self):
        """Whether this estimator, as set, trains a torch network (True here)."""
        return True

    # -- device and randomness -----------------------------------------------
    def _device_name(self):
        device = str(self.device)
        if device == "auto":
            torch = import_torch(type(self).__name__)
            return "cuda" if torch.cuda.is_available() else "cpu"
        return device

    def _resolve_device(self):
        torch = import_torch(type(self).__name__)
        device = self._device_name()
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} but CUDA is not available here; use "
                "device='cpu' or device='auto'."
            )
        return device

    @staticmethod
    def _rng_devices(device):
        import torch

        device = torch.device(device)
        return [device.index or 0] if device.type == "cuda" else []

    @contextlib.contextmanager
    def _torch_seeded(self, random_state, device):
        """Torch seeded from one draw of ``random_state``; global state restored."""
        import torch

        seed = int(random_state.randint(np.iinfo(np.int32).max))
        with torch.random.fork_rng(devices=self._rng_devices(device)):
            torch.manual_seed(seed)
            yield

    # -- the net ---------------------------------------------------------------
    def _build_module(self, default_factory):
        """``module``: the default, a deep copy of an instance, or a fresh build."""
        torch = import_torch(type(self).__name__)
        module = getattr(self, "module", None)
        if module is None:
            return default_factory()
        if isinstance(module, torch.nn.Module):
            # Never trained in place: refits and clones start from the same weights.
            return copy.deepcopy(module)
        if callable(module):
            built = module()
            if not isinstance(built, torch.nn.Module):
                raise TypeError(
                    "module must be a torch.nn.Module, a callable returning one, or "
                    f"None; calling {module!r} returned {type(built).__name__}."
                )
            return built
        raise TypeError(
            "module must be a torch.nn.Module, a callable returning one, or "
            f"None; got {type(module).__name__}."
        )

    @staticmethod
    def _default_network(input_shape, *, vector, image):
        """Builder of a default network for samples of ``input_shape``.

        ``vector(n_features)`` builds it for vectors, ``image(channels,
        height, width)`` for images; any other shape is a clear error.
        """
        if len(input_shape) == 1:
            return lambda: vector(*input_shape)
        if len(input_shape) == 3:
            return lambda: image(*input_shape)
        raise ValueError(
            "The default network takes X of shape (n_samples, n_features) or images "
            "(n_samples, channels, height, width); got samples of shape "
            f"{tuple(input_shape)}. Pass a module for other inputs."
        )

    @staticmethod
    def _probe_output(module, X_probe):
        """``module``'s output on ``X_probe``, in eval mode and without gradient.

        Run before training to check the module's output shape.
        """
        # Eval mode and no gradient: the probe moves no BatchNorm statistic and
        # draws no dropout mask, so training is the same with or without it.
        # A module given on a GPU stays there for the probe.
        import torch

        parameter = next(module.parameters(), None)
        device = None if parameter is None else parameter.device
        was_training = module.training
        with torch.no_grad():
            output = module.eval()(torch.as_tensor(X_probe, device=device))
        module.train(was_training)
        return output

    def _check_output_shape(self, output, n_samples, n_outputs, *, needs):
        """Raise unless ``output`` (of ``n_samples`` probe samples) is ``(n_samples, n_outputs)``.

        ``needs`` says in the message what the estimator needs of the module.
        """
        shape = tuple(output.shape) if hasattr(output, "shape") else None
        if shape != (n_samples, n_outputs):
            got = shape if shape is not None else type(output).__name__
            raise ValueError(
                f"module maps {n_samples} samples to shape {got}; "
                f"{type(self).__name__} needs {needs}. Give the module's last "
                f"layer {n_outputs} outputs."
            )

    def _training_params(self):
        """The skorch training parameters taken from the estimator's own."""
        return {
            "optimizer": self.optimizer,
            "lr": self.lr,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
        }

    @staticmethod
    def _loss_term_callbacks(*names):
        """Callbacks putting each batch-recorded loss term in the epoch table.

        A net whose ``get_loss`` records terms with
        ``history.record_batch(name, value)`` gets one
        :class:`~skorch.callbacks.PassthroughScoring` per name, averaging it
        over the epoch (over training batches for names starting with
        ``"train_"``), so that ``EarlyStopping`` and the progress table see it.
        """
        from skorch.callbacks import PassthroughScoring

        return [
            (name, PassthroughScoring(name, on_train=name.startswith("train_")))
            for name in names
        ]

    def _callbacks(self):
        callbacks = copy.deepcopy(list(getattr(self, "callbacks", None) or []))
        if self.verbose > 0:
            from skorch.callbacks import ProgressBar

            callbacks.append(("progress", ProgressBar()))
        return callbacks

    def _fit_net(
        self,
        X,
        y,
        *,
        make_module,
        criterion,
        random_state,
        net_class=None,
        fit_params=None,
        **net_kwargs,
    ):
        """Build the skorch net, train it on ``(X, y)`` and store it as ``net_``.

        Parameters
        ----------
        X, y : ndarray or skorch-compatible data
            Validated inputs and encoded targets (or whatever the module and
            criterion expect).
        make_module : callable
            Builds the module to train; called under the fit's torch seed.
        criterion : torch loss class or instance.
        random_state : RandomState
            The fit's random state; torch is seeded from one draw of it.
        net_class : skorch net class, default=None
            :class:`~skorch.NeuralNet` when None; a subclass may override
            ``get_loss`` for multi-output modules.
        fit_params : dict, default=None
            Passed to ``net.fit`` (skorch hands them to the module's forward).
        **net_kwargs
            Passed on to ``net_class`` (they win over the shared defaults).
        """
        device = self._resolve_device()  # checks the deep extra first
        from skorch import NeuralNet

        from ._deep._training import _OPTIMIZERS, _ArrayBatches

        if net_class is None:
            net_class = NeuralNet
        training = self._training_params()
        optimizer = training.pop("optimizer")
        optimizer_kwargs = {}
        if isinstance(optimizer, str):
            optimizer, defaults = _OPTIMIZERS[optimizer]
            optimizer_kwargs = {f"optimizer__{k}": v for k, v in defaults.items()}
        kwargs = dict(
            criterion=criterion,
            optimizer=optimizer,
            **training,
            device=device,
            callbacks=self._callbacks(),
            train_split=None,
            iterator_train__shuffle=True,
            # Inference draws no random number here, unlike a DataLoader.
            iterator_valid=_ArrayBatches,
            verbose=int(self.verbose > 0),
            **optimizer_kwargs,
        )
        kwargs.update(net_kwargs)
        with self._torch_seeded(random_state, device):
            self.net_ = net_class(module=make_module(), **kwargs)
            with warnings.catch_warnings():
                # skorch warns when the module is passed initialized; we do that
                # on purpose so the module is built under the seed.
                warnings.filterwarnings("ignore", message=".*initialized.*")
                self.net_.fit(X, y, **(fit_params or {}))
        return self.net_

    def _forward(self, X, *, method=None):
        """Module outputs on ``X`` in evaluation mode, as CPU tensors.

        Through skorch's ``forward_iter`` on a shallow copy of ``net_`` whose
        module is the fitted one seen through ``method`` (the name of a method
        of the module called instead of ``forward``, e.g. to compute one of
        several outputs without the costlier others) and ``inference_dtype``.
        By default the module runs in its own precision (float32): a sample's
        outputs then depend on the other samples of its batch only through
        float32 rounding (matrix products of another shape sum in another
        order), at most a few units in the 6th significant digit. With
        ``inference_dtype="float64"``, a float64 copy of the module runs
        (several times slower for convolutions) and that noise is below 1e-12.
        The global torch random state is left as it was. A module with
        several outputs gives a tuple of tensors.
        """
        import torch

        from ._deep._training import _INFERENCE_DTYPES, _Inference

        net = self.net_
        module = net.module_
        dtype = _INFERENCE_DTYPES.get(getattr(self, "inference_dtype", None))
        if dtype is not None and dtype != next(module.parameters()).dtype:
            module = copy.deepcopy(module).to(dtype)
        inference = copy.copy(net)
        inference.module_ = _Inference(module, method, dtype)
        with torch.random.fork_rng(devices=self._rng_devices(net.device)):
            outputs = list(inference.forward_iter(X, training=False))
        if isinstance(outputs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outputs))
        return torch.cat(outputs)


@Substitution()
class BaseDeepOpenSetClassifier(OpenSetClassifierMixin, BaseTorchEstimator):
    """Base of the open-set classifiers that train a torch module with skorch.

    Composition, not inheritance: ``fit`` builds a skorch
    :class:`~skorch.NeuralNet` and keeps it as ``net_``. Subclasses define
    ``__init__`` with the shared parameters below plus their own, and call
    :meth:`_validate_fit_data`, :meth:`_fit_net` and :meth:`_forward`. A
    method that puts layers of its own on the user's module (CAC's anchors,
    ANS's heads) does it in :meth:`_wrap_module`, after the logit check.

    Parameters
    ----------
    module : torch.nn.Module, callable or None
        The network. ``None`` builds the method's default. An ``nn.Module``
        instance is deep-copied in ``fit`` (never trained in place, so refits
        and clones start from the same weights). A class or any callable is
        called without arguments to build the module.
    {max_epochs}
    {lr}
    {batch_size}
    {optimizer}
    {device}
    {callbacks}
    {inference_dtype}
    {verbose}
    {random_state}
    {open_label}
    """

    _parameter_constraints: ClassVar[dict] = {
        "module": "no_validation",
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0.0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZER_NAMES)), type],
        "device": [str, TorchDeviceConstraint()],
        "callbacks": [list, None],
        "inference_dtype": [StrOptions(set(INFERENCE_DTYPE_NAMES)), None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "open_label": "no_validation",
    }

    # -- input ------------------------------------------------------------
    @staticmethod
    def _held_out_rows(y_encoded, fraction, random_state):
        """``(train_rows, held_out_rows)``: a stratified split of the rows.

        ``fraction=None`` holds out nothing and calibrates on every row:
        ``(all rows, all rows)``. One draw from ``random_state`` seeds the
        split, so estimators that share it hold out the same samples.
        """
        rows = np.arange(len(y_encoded))
        if fraction is None:
            return rows, rows
        return train_test_split(
            rows,
            test_size=fraction,
            stratify=y_encoded,
            random_state=random_state.randint(np.iinfo(np.int32).max),
        )

    def _validate_fit_data(self, X, y, *, allow_nd=True, min_samples=2):
        """Validate ``X`` as float32 and encode ``y``; sets ``classes_``."""
        X, y = validate_data(
            self,
            X,
            y,
            dtype=np.float32,
            allow_nd=allow_nd,
            ensure_min_samples=min_samples,
        )
        y_encoded = self._fit_labels(y)
        return X, y_encoded

    def _validate_predict_data(self, X, *, allow_nd=True, dtype=np.float32):
        """Validate ``X`` at prediction: fitted, same shape per sample as in fit."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=dtype, allow_nd=allow_nd, reset=False)
        if X.shape[1:] != self.input_shape_:
            raise ValueError(
                f"X has shape {X.shape[1:]} per sample but {type(self).__name__} "
                f"was fitted on samples of shape {self.input_shape_}; pass inputs "
                "with the same features as in fit."
            )
        return X

    @classmethod
    def _default_classifier(cls, input_shape, n_classes, *, image_pooling="avg"):
        """Builder of the default network for samples of ``input_shape``.

        An :class:`~sklearn_openset.nn.MLP` for vectors, the paper's
        :class:`~sklearn_openset.nn.Classifier32` (with ``image_pooling``)
        for images ``(channels, height, width)``.
        """
        from .nn import MLP, Classifier32

        return cls._default_network(
            input_shape,
            vector=lambda n_features: MLP(n_features, n_classes),
            image=lambda channels, *_: Classifier32(
                n_classes, in_channels=channels, pooling=image_pooling
            ),
        )

    # -- the network ---------------------------------------------------------
    def _wrap_module(self, module, **wrap_params):
        """The module to train around the checked user module (identity here).

        ``wrap_params`` are those given to :meth:`_fit_net`.
        """
        return module

    def _check_module_output(self, output, X_probe):
        """Check what the module returns on ``X_probe`` beyond the logits.

        Called before the logit check, on the module's output in eval mode. A
        method whose module has several outputs checks them here (nothing
        to check in the base).
        """

    def _checked_logits(self, module, X_probe):
        """``module``, after checking that it maps ``X_probe`` to one logit per class.

        Checked before any training, so that a module built for another
        number of classes fails with a message rather than a shape error at
        predict.
        """
        output = self._probe_output(module, X_probe)
        self._check_module_output(output, X_probe)
        logits = output[0] if isinstance(output, tuple) else output
        n_classes = len(self.classes_)
        self._check_output_shape(
            logits,
            len(X_probe),
            n_classes,
            needs=(
                f"one logit per class, shape {(len(X_probe), n_classes)} for the "
                f"{n_classes} classes in y"
            ),
        )
        return module

    def _fit_net(
        self, X, y, *, default_module, random_state=None, wrap_params=None, **kwargs
    ):
        """Train the module (built, checked and wrapped under the seed) on ``(X, y)``.

        ``default_module`` builds the method's module when ``module`` is None;
        ``wrap_params`` go to :meth:`_wrap_module`; the other arguments are
        those of :meth:`BaseTorchEstimator._fit_net`. ``random_state``
        defaults to ``check_random_state(self.random_state)``.
        """
        random_state = check_random_state(
            self.random_state if random_state is None else random_state
        )
        probe = X[:2]

        def make_module():
            module = self._checked_logits(self._build_module(default_module), probe)
            return self._wrap_module(module, **(wrap_params or {}))

        net = super()._fit_net(
            X, y, make_module=make_module, random_state=random_state, **kwargs
        )
        self.input_shape_ = tuple(X.shape[1:])
        return net
