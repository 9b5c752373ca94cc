"""Base classes: the open-set classifier mixin and the deep-estimator base.

:class:`OpenSetClassifierMixin` gives every open-set classifier its
``predict`` (a known class or ``open_label``), ``score`` (open-set accuracy)
and the threshold plumbing. :class:`BaseDeepOpenSetClassifier` owns
everything that deep estimators share: label encoding, seeding, the device,
progress output and building and running the skorch net. Method files own
only their method.
"""

import copy
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import ProgressBar
from skorch.dataset import unpack_data

from .utils._validation import (
    encode_known_labels,
    encode_open_set,
    labels_with_open,
)

__all__ = ["BaseDeepOpenSetClassifier", "OpenSetClassifierMixin"]


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


_OPTIMIZERS = {
    # SGD with momentum 0.9 is what the CAC and OpenMax reference trainings use.
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
}


class _TorchDeviceMixin:
    """The ``device`` parameter of estimators that run torch modules.

    ``"auto"`` takes CUDA when it is available; a CUDA device where there is
    none is a clear error at fit time.
    """

    def _device_name(self):
        device = str(self.device)
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return device

    def _resolve_device(self):
        device = self._device_name()
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} but CUDA is not available here; use "
                "device='cpu' or device='auto'."
            )
        return device


class BaseDeepOpenSetClassifier(
    _TorchDeviceMixin, OpenSetClassifierMixin, BaseEstimator
):
    """Base of the open-set classifiers that train a torch module with skorch.

    Composition, not inheritance: ``fit`` builds a skorch
    :class:`~skorch.NeuralNet` and keeps it as ``net_``. Subclasses define
    ``__init__`` with the shared parameters below plus their own, and call
    :meth:`_validate_fit_data`, :meth:`_fit_net` and :meth:`_forward`.

    Parameters
    ----------
    module : torch.nn.Module, callable or None
        The network. ``None`` builds the method's default. An ``nn.Module``
        instance is deep-copied in ``fit`` (never trained in place, so refits
        and clones start from the same weights). A class or any callable is
        called without arguments to build the module.
    max_epochs, lr, batch_size : training length, learning rate, batch size.
    optimizer : {"sgd", "adam", "adamw"} or a ``torch.optim.Optimizer`` class.
        ``"sgd"`` uses momentum 0.9.
    device : {"cpu", "cuda", "auto"} or a torch device string such as
        ``"cuda:1"``. ``"auto"`` takes CUDA when available.
    callbacks : list of skorch callbacks or ``(name, callback)`` pairs, or
        None. Deep-copied in ``fit``.
    verbose : int. Above 0, skorch prints the epoch table and a progress bar.
    random_state : int, RandomState or None. Seeds numpy and torch in
        ``fit``: on CPU, the same seed gives the same predictions. The global
        torch random state is left as it was.
    """

    _parameter_constraints: ClassVar[dict] = {
        "module": "no_validation",
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0.0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "open_label": "no_validation",
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self._device_name() != "cpu"
        return tags

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

    def _validate_predict_data(self, X, *, allow_nd=True):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, allow_nd=allow_nd, reset=False)
        if X.shape[1:] != self.input_shape_:
            raise ValueError(
                f"X has shape {X.shape[1:]} per sample but {type(self).__name__} "
                f"was fitted on samples of shape {self.input_shape_}; pass inputs "
                "with the same features as in fit."
            )
        return X

    # -- randomness -----------------------------------------------------------
    def _torch_seed(self, random_state):
        """A torch seed drawn from the fitted ``RandomState``."""
        return int(random_state.randint(np.iinfo(np.int32).max))

    # -- the network ---------------------------------------------------------
    def _make_module(self, default_factory, X_probe):
        """The module to train: the default, a deep copy, or a fresh build.

        It must map the samples ``X_probe`` to one logit per class; checked
        here, before any training, so that a module built for another number
        of classes fails with a message rather than a shape error at predict.
        """
        if self.module is None:
            module = default_factory()
        elif isinstance(self.module, torch.nn.Module):
            module = copy.deepcopy(self.module)
        elif callable(self.module):
            module = self.module()
            if not isinstance(module, torch.nn.Module):
                raise TypeError(
                    "module must be a torch.nn.Module, a callable returning one, or "
                    f"None; calling {self.module!r} returned {type(module).__name__}."
                )
        else:
            raise TypeError(
                "module must be a torch.nn.Module, a callable returning one, or "
                f"None; got {type(self.module).__name__}."
            )
        return self._checked_logits(module, X_probe)

    def _checked_logits(self, module, X_probe):
        # Eval mode and no gradient: the probe moves no BatchNorm statistic and
        # draws no dropout mask, so training is the same with or without it.
        # A module given on a GPU stays there for the probe.
        parameter = next(module.parameters(), None)
        device = None if parameter is None else parameter.device
        was_training = module.training
        with torch.no_grad():
            output = module.eval()(torch.as_tensor(X_probe, device=device))
        module.train(was_training)
        logits = output[0] if isinstance(output, tuple) else output
        expected = (len(X_probe), len(self.classes_))
        if tuple(logits.shape) != expected:
            raise ValueError(
                f"module maps {len(X_probe)} samples to shape "
                f"{tuple(logits.shape)}; {type(self).__name__} needs one logit per "
                f"class, shape {expected} for the {len(self.classes_)} classes in y. "
                f"Give the module's last layer {len(self.classes_)} outputs."
            )
        return module

    def _optimizer_and_kwargs(self):
        if isinstance(self.optimizer, str):
            optimizer, defaults = _OPTIMIZERS[self.optimizer]
            return optimizer, {f"optimizer__{k}": v for k, v in defaults.items()}
        return self.optimizer, {}

    def _callbacks(self):
        callbacks = copy.deepcopy(list(self.callbacks or []))
        if self.verbose > 0:
            callbacks.append(("progress", ProgressBar()))
        return callbacks

    def _fit_net(
        self,
        X,
        y,
        *,
        default_module,
        criterion,
        net_class=NeuralNet,
        random_state=None,
        **net_kwargs,
    ):
        """Build the skorch net, train it on ``(X, y)`` and store it as ``net_``.

        Parameters
        ----------
        X, y : ndarray
            Validated inputs and encoded targets (or whatever the module and
            criterion expect).
        default_module : callable
            Builds the method's module when ``module`` is None.
        criterion : torch loss class or instance.
        net_class : skorch net class, default=NeuralNet
            A subclass may override ``get_loss`` for multi-output modules.
        random_state : RandomState
            The fit's random state; torch is seeded from it.
        **net_kwargs
            Passed on to ``net_class`` (they win over the shared defaults).
        """
        random_state = check_random_state(
            self.random_state if random_state is None else random_state
        )
        device = self._resolve_device()
        optimizer, optimizer_kwargs = self._optimizer_and_kwargs()
        kwargs = dict(
            criterion=criterion,
            optimizer=optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            device=device,
            callbacks=self._callbacks(),
            train_split=None,
            iterator_train__shuffle=True,
            verbose=int(self.verbose > 0),
            **optimizer_kwargs,
        )
        kwargs.update(net_kwargs)
        seed = self._torch_seed(random_state)
        devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            module = self._make_module(default_module, X[:2])
            self.net_ = net_class(module=module, **kwargs)
            with warnings.catch_warnings():
                # skorch warns when the module is passed initialized; we do that
                # on purpose so the module is built under the seed.
                warnings.filterwarnings("ignore", message=".*initialized.*")
                self.net_.fit(X, y)
        self.input_shape_ = tuple(X.shape[1:])
        return self.net_

    def _forward(self, X, *, method=None):
        """Module outputs on ``X`` in evaluation mode, as CPU tensors.

        On CPU the outputs are computed by a float64 copy of the module: in
        float32 the rounding of a matrix product depends on how many rows it
        has, so a sample's scores would change (by ~1e-6) with the batch it
        arrives in. In float64 that noise is below 1e-12. On GPU the float32
        module runs as trained (and the estimator is tagged non-deterministic).
        A module with several outputs gives a tuple of tensors.

        ``method``, the name of a method of the module, is called instead of
        ``forward`` (e.g. to compute one of several outputs without the
        costlier others).
        """
        net = self.net_
        on_cpu = str(net.device) == "cpu"
        module = copy.deepcopy(net.module_).double() if on_cpu else net.module_
        module.eval()
        call = module if method is None else getattr(module, method)
        iterator = net.get_iterator(net.get_dataset(X), training=False)
        outputs = []
        with torch.no_grad():
            for batch in iterator:
                inputs = torch.as_tensor(unpack_data(batch)[0], device=net.device)
                if on_cpu:
                    inputs = inputs.double()
                output = call(inputs)
                outputs.append(
                    tuple(o.cpu() for o in output)
                    if isinstance(output, tuple)
                    else output.cpu()
                )
        if isinstance(outputs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outputs))
        return torch.cat(outputs)
