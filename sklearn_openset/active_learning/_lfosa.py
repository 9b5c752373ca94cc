"""LfOSA: active learning for open-set annotation (Ning et al., CVPR 2022)."""

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import OPTIMIZER_NAMES, BaseTorchEstimator
from ..utils._optional import TorchDeviceConstraint, check_deep_install
from ._base import BaseOpenSetQueryStrategy, strategy_docs

__all__ = ["LfOSASampler"]

#: The reference code's mixture settings: few EM steps on one-dimensional values.
_GMM_PARAMS = {"n_components": 2, "max_iter": 10, "tol": 1e-2, "reg_covar": 5e-4}


def _known_posteriors(logits, random_state):
    """LfOSA's utility of each sample from the detector's K+1 logits.

    Per predicted known class, the posterior of the higher-mean component of
    a two-component Gaussian mixture fitted on the maximum activation values
    of the samples predicted in that class. A class predicted for a single
    sample gives it 0.5 (no mixture fits one value). Samples predicted
    unknown get utilities in (-1, 0), ranked by their largest known-class
    logit, so they come after every other sample.
    """
    n_known = logits.shape[1] - 1
    predicted = logits.argmax(axis=1)
    activation = logits.max(axis=1)
    utilities = np.empty(len(logits))
    unknown = predicted == n_known
    if unknown.any():
        best_known = logits[unknown, :n_known].max(axis=1)
        utilities[unknown] = rankdata(best_known) / (unknown.sum() + 1) - 1
    seed = random_state.randint(np.iinfo(np.int32).max)
    rows = np.flatnonzero(~unknown)
    rows = rows[np.argsort(predicted[rows], kind="stable")]
    groups = np.split(rows, np.flatnonzero(np.diff(predicted[rows])) + 1)
    with warnings.catch_warnings():
        # Ten EM steps, as in the reference code: not meant to converge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for group in groups:
            if len(group) < 2:
                utilities[group] = 0.5
                continue
            values = activation[group, None]
            mixture = GaussianMixture(random_state=seed, **_GMM_PARAMS).fit(values)
            utilities[group] = mixture.predict_proba(values)[:, mixture.means_.argmax()]
    return utilities


@strategy_docs("classes", "missing_label", "open_label", "classes_")
class LfOSASampler(BaseOpenSetQueryStrategy, BaseTorchEstimator):
    """Query the unlabeled samples most likely to be of a known class (LfOSA).

    In open-set annotation the unlabeled pool mixes the K classes of interest
    with classes nobody wants labeled; every query spent on them is wasted.
    LfOSA trains a detector with K+1 outputs (the last for "unknown") on the
    labeled samples and on those already found to be unknown, then queries
    the samples whose maximum activation looks most like a known class's.
    The sampler only chooses: the classifier that the annotations train is
    the user's own.

    Parameters
    ----------
    module : torch.nn.Module, callable or None, default=None
        The detector, mapping a batch to K+1 logits (the known classes in the
        order of ``classes_``, then unknown). ``None``: an
        :class:`~sklearn_openset.nn.MLP` for vectors, torchvision's ResNet-18
        with the CIFAR stem (:func:`~sklearn_openset.nn.cifar_resnet18`) for
        images ``(channels, height, width)``, as in the paper. An instance is
        deep-copied at every query (each query trains from scratch, as the
        paper does); a callable is called without arguments.
    temperature : float, default=0.5
        The detector's logits are divided by it in the cross-entropy (the
        paper's :math:`T`).
    use_invalid : bool, default=True
        Train the detector's unknown output on the samples of ``y`` marked
        ``open_label``. ``False`` is the paper's ablation without the invalid
        set.
    {classes}
        The detector keeps one output per given class even before the class
        has a labeled sample.
    max_epochs : int, default=30
        Passes over the labeled and invalid samples at each query.
    lr : float, default=1e-3
        Learning rate.
    train_batch_size : int, default=128
        Samples per training step (``query``'s ``batch_size`` is the number of
        samples to query).
    optimizer : {"sgd", "adam", "adamw"} or a ``torch.optim.Optimizer`` class, \
default="adam"
        ``"sgd"`` uses momentum 0.9.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where the detector trains and runs.
    callbacks : list of skorch callbacks or ``(name, callback)`` pairs, or None, \
default=None
        Deep-copied at each query.
    verbose : int, default=0
        Above 0, skorch prints the detector's epochs.
    random_state : int, RandomState or None, default=None
        Seeds the detector's training, the mixtures and the tie-breaking. The
        same int gives the same query for the same data on CPU.
    {missing_label}
    {open_label}

    Attributes
    ----------
    {classes_}
        The detector's first outputs, in this order.
    net_ : skorch.NeuralNet
        The detector trained at the last query.

    See Also
    --------
    RandomSampler, UncertaintySampler, CertaintySampler, OpenSetScoreSampler :
        The baselines, with the same ``query``.
    simulate_annotation : A whole annotation campaign with an oracle.

    Notes
    -----
    **Detector.** A network :math:`f` with K+1 outputs is trained on the
    labeled samples (target their class) and the invalid set (target K+1)
    with the cross-entropy at temperature :math:`T`:

    .. math:: \\mathcal{L} = -\\log \\frac{\\exp(f_{y}(x) / T)}
              {\\sum_{j=1}^{K+1} \\exp(f_j(x) / T)}.

    A low temperature sharpens the softmax during training, which makes the
    activations of known-class samples larger and sets them further apart
    from those of unknown samples (the paper's Figure 4).

    **Query.** For each unlabeled sample, the maximum activation value (MAV)
    :math:`v = \\max_j f_j(x)` and the predicted class
    :math:`\\hat y = \\arg\\max_j f_j(x)`. Samples predicted unknown
    (:math:`\\hat y = K+1`) are dropped. For each known class :math:`k`, a
    two-component Gaussian mixture is fitted on the MAVs of the samples
    predicted :math:`k`; the utility of each of them is the posterior
    probability of the component with the larger mean, the probability
    that the sample is really of class :math:`k`. The ``batch_size``
    samples of highest utility are queried.

    **Fallbacks** (not in the paper). A class predicted for a single sample
    gives it utility 0.5: no mixture fits one value, and the sample is taken
    as undecided (the reference code never queries it). Samples predicted
    unknown get utilities in (-1, 0), ordered by their largest known-class
    logit: they are queried only once every other candidate is, so a pool
    that the detector predicts entirely unknown still yields a batch, the
    samples closest to a known class first.

    **Departures from the reference code** (ningkp/LfOSA), and why:

    - The default training (Adam, learning rate 1e-3, 30 epochs) is sized
      for the default MLP on feature vectors. The paper trains ResNet-18 for
      100 epochs with SGD (learning rate 0.01, momentum 0.9, weight decay
      5e-4, halved every 20 epochs); pass those for images.
    - One temperature for all samples. The reference code can give the
      invalid samples another temperature; the published runs use 0.5 for
      both.
    - The reference training script adds a center loss to the detector's
      cross-entropy; the sampler trains with the temperature-scaled
      cross-entropy alone, the loss of the method's description.
    - The mixtures use the reference code's settings: 10 EM iterations,
      tolerance 1e-2, covariance regularisation 5e-4 (and a seed).

    References
    ----------
    .. [1] K.-P. Ning, X. Zhao, Y. Li and S.-J. Huang, "Active Learning for
       Open-set Annotation", CVPR 2022. https://github.com/ningkp/LfOSA

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_openset.active_learning import LfOSASampler
    >>> X, y_true = make_blobs(n_samples=300, centers=4, random_state=0)
    >>> y = np.full(len(y_true), np.nan)       # the unlabeled pool
    >>> y[:20] = np.where(y_true[:20] < 2, y_true[:20], -1)  # classes 2, 3 unknown
    >>> sampler = LfOSASampler(max_epochs=5, random_state=0)
    >>> sampler.query(X, y, batch_size=10).shape
    (10,)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseOpenSetQueryStrategy._parameter_constraints,
        "module": "no_validation",
        "temperature": [Interval(Real, 0.0, None, closed="neither")],
        "use_invalid": ["boolean"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0.0, None, closed="neither")],
        "train_batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZER_NAMES)), type],
        "device": [str, TorchDeviceConstraint()],
        "callbacks": [list, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module=None,
        *,
        temperature=0.5,
        use_invalid=True,
        classes=None,
        max_epochs=30,
        lr=1e-3,
        train_batch_size=128,
        optimizer="adam",
        device="cpu",
        callbacks=None,
        verbose=0,
        random_state=None,
        missing_label=np.nan,
        open_label=-1,
    ):
        check_deep_install(self)  # torch and skorch: sets nothing
        self.module = module
        self.temperature = temperature
        self.use_invalid = use_invalid
        self.classes = classes
        self.max_epochs = max_epochs
        self.lr = lr
        self.train_batch_size = train_batch_size
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        self.missing_label = missing_label
        self.open_label = open_label

    def _training_params(self):
        return {
            "optimizer": self.optimizer,
            "lr": self.lr,
            "max_epochs": self.max_epochs,
            "batch_size": self.train_batch_size,
        }

    def _utilities(self, pool):
        from ..nn import MLP, TemperatureCrossEntropyLoss, cifar_resnet18

        n_known = len(pool.classes)
        rows, targets = pool.training_rows(self.use_invalid)
        X_train = pool.X[rows].astype(np.float32)
        default = self._default_network(
            X_train.shape[1:],
            vector=lambda n_features: MLP(n_features, n_known + 1),
            image=lambda channels, *_: cifar_resnet18(n_known + 1, channels),
        )

        def make_module():
            module = self._build_module(default)
            self._check_output_shape(
                self._probe_output(module, X_train[:2]),
                len(X_train[:2]),
                n_known + 1,
                needs=(
                    f"K+1 = {n_known + 1} logits per sample (one per known class "
                    "of classes_, then unknown)"
                ),
            )
            return module

        self._fit_net(
            X_train,
            targets.astype(np.int64),
            make_module=make_module,
            criterion=TemperatureCrossEntropyLoss,
            criterion__temperature=self.temperature,
            random_state=pool.random_state,
        )
        logits = self._forward(pool.candidates.astype(np.float32))
        return _known_posteriors(logits.numpy().astype(np.float64), pool.random_state)
