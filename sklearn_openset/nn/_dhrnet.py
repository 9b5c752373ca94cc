"""Deep Hierarchical Reconstruction Nets (DHRNet, Yoshihashi et al., CVPR 2019).

A DHRNet is a classifier whose encoder stages each feed a lateral bottleneck,
a small latent code, and a top-down decoder that reconstructs the input from
all the codes. CROSR trains it on classification plus reconstruction and
detects unknowns on the logits together with the (pooled) latent codes.

:class:`DHRNet` is the paper's convolutional network for small images,
:class:`VectorDHRNet` its fully connected form for feature vectors (sentence
embeddings, tabular data). Both return ``(logits, latent, reconstruction)``
from ``forward`` and ``(logits, latent)`` from :meth:`~DHRNet.classify`, which
skips the decoder: inference costs the encoder and the small laterals only.
"""

import itertools
from numbers import Integral

import torch
from torch import nn
from torch.nn import functional as F

from ._backbones import _check_dropout, _check_positive_int

__all__ = ["DHRNet", "DHRNetLoss", "VectorDHRNet"]


class _HierarchicalReconstruction(nn.Module):
    """The forward pass shared by every DHRNet.

    A subclass builds, for stages ``l = 1 .. L``: ``stages[l]`` (the encoder
    stage :math:`f_l`), ``laterals[l]`` (:math:`h_l`, stage output to latent
    code), ``reprojections[l]`` (:math:`\\tilde h_l`, latent code back to the
    stage output's shape), ``decoders[l]`` (:math:`g_l`, stage output space
    back to the stage input space) and ``head`` (last stage output to
    logits); and ``_pool_latent`` (a code to a vector).
    """

    def encode(self, x):
        """Logits and the latent code of every stage (unpooled)."""
        codes = []
        for stage, lateral in zip(self.stages, self.laterals, strict=True):
            x = stage(x)
            codes.append(lateral(x))
        return self.head(x), codes

    def decode(self, codes):
        """Reconstruction of the input from the latent codes of every stage.

        Top-down: :math:`\\tilde x_L = g_L(\\tilde h_L(z_L))`, then
        :math:`\\tilde x_l = g_l(\\tilde x_{l+1} + \\tilde h_l(z_l))`.
        """
        top = None
        for level in reversed(range(len(codes))):
            reprojected = self.reprojections[level](codes[level])
            top = reprojected if top is None else top + reprojected
            top = self.decoders[level](top)
        return top

    def _pool_latent(self, code):  # pragma: no cover - abstract
        raise NotImplementedError

    def _latent_vector(self, codes):
        return torch.cat([self._pool_latent(z) for z in codes], dim=1)

    def classify(self, x):
        """Logits and the pooled latent codes, without the decoder.

        Parameters
        ----------
        x : torch.Tensor
            Input batch.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_outputs)
        latent : torch.Tensor of shape (n_samples, latent_dim)
            Every stage's code reduced to a vector (global max pooling over
            space for images), concatenated stage after stage.
        """
        logits, codes = self.encode(x)
        return logits, self._latent_vector(codes)

    def forward(self, x):
        """Logits, pooled latent codes and the reconstruction of ``x``.

        Parameters
        ----------
        x : torch.Tensor
            Input batch.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_outputs)
        latent : torch.Tensor of shape (n_samples, latent_dim)
        reconstruction : torch.Tensor of the shape of ``x``
        """
        logits, codes = self.encode(x)
        return logits, self._latent_vector(codes), self.decode(codes)


def _image_size(image_size):
    if isinstance(image_size, Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    image_size = tuple(image_size)
    if len(image_size) != 2:
        raise ValueError(
            f"image_size must be an int or a (height, width) pair, got {image_size!r}."
        )
    return tuple(_check_positive_int(side, "image_size") for side in image_size)


def _conv_relu(in_channels, out_channels):
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU()]


class DHRNet(_HierarchicalReconstruction):
    r"""The paper's DHRNet for small images (MNIST).

    The encoder is the CROSR paper's MNIST network: five 3x3 convolutions of
    ``channels`` channels with ReLU, a 2x2 max pooling after every two
    convolutions, then fully connected layers of 500 units and
    ``n_outputs``. It has three stages (two convolutions and a pooling, two
    convolutions and a pooling, the fifth convolution), and after each stage
    a lateral bottleneck, a 3x3 convolution to ``latent_channels`` maps. The
    decoder mirrors the encoder stage by stage.

    Parameters
    ----------
    n_outputs : int
        Number of logits (the number of known classes).
    in_channels : int, default=1
        Channels of the input images.
    image_size : int or (int, int), default=28
        Height and width of the input images. Both must be divisible by 4
        (the two poolings halve them twice, and the decoder doubles them
        back): 28 (MNIST), 32 and 8 (scikit-learn's digits) are.
    channels : int, default=100
        Channels of every convolution of the encoder (paper: 100).
    latent_channels : int, default=32
        Channels of each stage's latent code :math:`z_l` (paper: 32).
    dropout : float, default=0.2
        Dropout after each encoder stage and after the 500-unit layer, in
        train mode only. The paper puts dropout in the encoder; 0.2 is the
        rate of the library's other image backbone (classifier32).

    Attributes
    ----------
    stages : torch.nn.ModuleList
        The encoder stages :math:`f_l`.
    laterals, reprojections : torch.nn.ModuleList
        The bottlenecks :math:`h_l` and their reprojections
        :math:`\tilde h_l`.
    decoders : torch.nn.ModuleList
        The decoder stages :math:`g_l`, ``decoders[l]`` mapping stage ``l``'s
        output back to its input.
    head : torch.nn.Sequential
        Flatten, 500 units, ReLU, dropout, ``n_outputs`` logits.
    latent_dim : int
        Size of the pooled latent vector, ``3 * latent_channels``.

    See Also
    --------
    VectorDHRNet : The same network for feature vectors.
    DHRNetLoss : The training loss, classification plus reconstruction.
    sklearn_openset.CROSRClassifier : The open-set classifier that trains it.

    Notes
    -----
    With :math:`x_1` the input image, stage :math:`l` computes
    :math:`x_{l+1} = f_l(x_l)` and its latent code
    :math:`z_l = h_l(x_{l+1})`: the lateral reads the stage's output, i.e.
    the map after each pooling, as in the paper. The decoder reconstructs
    top-down,

    .. math:: \tilde x_L = g_L(\tilde h_L(z_L)), \qquad
              \tilde x_l = g_l(\tilde x_{l+1} + \tilde h_l(z_l)),

    where :math:`\tilde h_l` is a 3x3 convolution back to ``channels`` maps
    and :math:`g_l` is a 2x nearest-neighbour upsampling where :math:`f_l`
    pooled, then a 3x3 convolution with ReLU (no ReLU on the last one, which
    outputs the image). For unknown detection each :math:`z_l` is reduced by
    global max pooling over space and the three are concatenated
    (:meth:`classify`).

    References
    ----------
    .. [1] R. Yoshihashi, W. Shao, R. Kawakami, S. You, M. Iida and T.
       Naemura, "Classification-Reconstruction Learning for Open-Set
       Recognition", CVPR 2019.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import DHRNet
    >>> net = DHRNet(n_outputs=10).eval()
    >>> logits, latent, reconstruction = net(torch.rand(4, 1, 28, 28))
    >>> logits.shape, latent.shape, reconstruction.shape
    (torch.Size([4, 10]), torch.Size([4, 96]), torch.Size([4, 1, 28, 28]))
    """

    n_poolings = 2

    def __init__(
        self,
        n_outputs,
        in_channels=1,
        image_size=28,
        channels=100,
        latent_channels=32,
        dropout=0.2,
    ):
        super().__init__()
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")
        self.in_channels = _check_positive_int(in_channels, "in_channels")
        self.image_size = _image_size(image_size)
        self.channels = _check_positive_int(channels, "channels")
        self.latent_channels = _check_positive_int(latent_channels, "latent_channels")
        _check_dropout(dropout)
        self.dropout = float(dropout)
        factor = 2**self.n_poolings
        if any(side % factor for side in self.image_size):
            raise ValueError(
                f"DHRNet pools twice and upsamples back, so the image height and "
                f"width must be divisible by {factor}; got image_size="
                f"{self.image_size}. Pad or resize the images (e.g. to 28x28 or "
                "32x32)."
            )
        c, k = self.channels, self.latent_channels
        self.stages = nn.ModuleList(
            [
                nn.Sequential(
                    *_conv_relu(self.in_channels, c),
                    *_conv_relu(c, c),
                    nn.MaxPool2d(2),
                    nn.Dropout(self.dropout),
                ),
                nn.Sequential(
                    *_conv_relu(c, c),
                    *_conv_relu(c, c),
                    nn.MaxPool2d(2),
                    nn.Dropout(self.dropout),
                ),
                nn.Sequential(*_conv_relu(c, c), nn.Dropout(self.dropout)),
            ]
        )
        self.laterals = nn.ModuleList(
            [nn.Conv2d(c, k, 3, padding=1) for _ in self.stages]
        )
        self.reprojections = nn.ModuleList(
            [nn.Conv2d(k, c, 3, padding=1) for _ in self.stages]
        )
        self.decoders = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Upsample(scale_factor=2),
                    nn.Conv2d(c, self.in_channels, 3, padding=1),
                ),
                nn.Sequential(nn.Upsample(scale_factor=2), *_conv_relu(c, c)),
                nn.Sequential(*_conv_relu(c, c)),
            ]
        )
        height, width = (side // factor for side in self.image_size)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * height * width, 500),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(500, self.n_outputs),
        )
        self.latent_dim = k * len(self.stages)

    def encode(self, x):
        expected = (self.in_channels, *self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"DHRNet expects images of shape (n_samples, {expected[0]}, "
                f"{expected[1]}, {expected[2]}), got {tuple(x.shape)}."
            )
        return super().encode(x)

    def _pool_latent(self, code):
        return torch.amax(code, dim=(2, 3))


class VectorDHRNet(_HierarchicalReconstruction):
    r"""DHRNet for feature vectors: fully connected stages with lateral bottlenecks.

    Each stage is ``Linear -> ReLU -> Dropout``; after each, a linear lateral
    bottleneck to ``latent_dim`` units gives the stage's latent code, and a
    linear reprojection maps it back. The decoder mirrors the stages with
    linear layers (ReLU between them, none on the output, which is the
    reconstructed input). The paper reports CROSR on text (DBpedia) with a
    convolutional text encoder; on fixed sentence embeddings (e.g. from
    :class:`~sklearn_openset.feature_extraction.TextEmbedder`) or tabular
    data, this is its form.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_outputs : int
        Number of logits (the number of known classes).
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Width of each encoder stage (at least one).
    latent_dim : int, default=32
        Units of each stage's latent code (the paper's 32 channels).
    dropout : float, default=0.2
        Dropout after each encoder stage, in train mode only.

    Attributes
    ----------
    stages, laterals, reprojections, decoders : torch.nn.ModuleList
        As in :class:`DHRNet`.
    head : torch.nn.Linear
        Last stage to the logits.
    latent_dim : int
        Size of the latent vector of :meth:`classify`,
        ``len(hidden_layer_sizes) * latent_dim`` (the parameter is per
        stage).

    See Also
    --------
    DHRNet : The convolutional network for images, with the equations.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import VectorDHRNet
    >>> net = VectorDHRNet(n_features=20, n_outputs=4).eval()
    >>> logits, latent = net.classify(torch.randn(8, 20))
    >>> logits.shape, latent.shape
    (torch.Size([8, 4]), torch.Size([8, 64]))
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_layer_sizes=(256, 128),
        latent_dim=32,
        dropout=0.2,
    ):
        super().__init__()
        self.n_features = _check_positive_int(n_features, "n_features")
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")
        self.hidden_layer_sizes = tuple(
            _check_positive_int(size, "each hidden layer size")
            for size in hidden_layer_sizes
        )
        if not self.hidden_layer_sizes:
            raise ValueError(
                "VectorDHRNet needs at least one stage; hidden_layer_sizes is empty."
            )
        latent_per_stage = _check_positive_int(latent_dim, "latent_dim")
        _check_dropout(dropout)
        self.dropout = float(dropout)
        widths = (self.n_features, *self.hidden_layer_sizes)
        self.stages = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Linear(w_in, w_out), nn.ReLU(), nn.Dropout(self.dropout)
                )
                for w_in, w_out in itertools.pairwise(widths)
            ]
        )
        self.laterals = nn.ModuleList(
            [nn.Linear(width, latent_per_stage) for width in widths[1:]]
        )
        self.reprojections = nn.ModuleList(
            [nn.Linear(latent_per_stage, width) for width in widths[1:]]
        )
        self.decoders = nn.ModuleList(
            [
                nn.Linear(w_out, w_in)
                if level == 0
                else nn.Sequential(nn.Linear(w_out, w_in), nn.ReLU())
                for level, (w_in, w_out) in enumerate(itertools.pairwise(widths))
            ]
        )
        self.head = nn.Linear(widths[-1], self.n_outputs)
        self.latent_dim = latent_per_stage * len(self.stages)

    def encode(self, x):
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"VectorDHRNet expects input of shape (n_samples, {self.n_features}), "
                f"got {tuple(x.shape)}."
            )
        return super().encode(x)

    def _pool_latent(self, code):
        return code


class DHRNetLoss(nn.Module):
    r"""CROSR's training loss: cross-entropy plus the L2 reconstruction error.

    .. math:: \mathcal L = \lambda_c \, \mathrm{CE}(y, t)
              + \lambda_r \, \frac{1}{n d} \sum_i \lVert \tilde x_i - x_i \rVert^2

    with :math:`y` the logits, :math:`t` the classes, :math:`\tilde x` the
    reconstruction of the input :math:`x` and :math:`d` the number of input
    values per sample (the mean squared error over every value of the batch).

    Parameters
    ----------
    classification_weight : float, default=1.0
        :math:`\lambda_c` (paper: 1.0).
    reconstruction_weight : float, default=1.0
        :math:`\lambda_r` (paper: 1.0).

    See Also
    --------
    DHRNet : The network it trains.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import DHRNetLoss, VectorDHRNet
    >>> net = VectorDHRNet(n_features=5, n_outputs=3)
    >>> x, y = torch.randn(8, 5), torch.randint(3, (8,))
    >>> logits, _, reconstruction = net(x)
    >>> DHRNetLoss()(logits, reconstruction, y, x).ndim
    0
    """

    def __init__(self, classification_weight=1.0, reconstruction_weight=1.0):
        super().__init__()
        for name, value in (
            ("classification_weight", classification_weight),
            ("reconstruction_weight", reconstruction_weight),
        ):
            if not float(value) >= 0.0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
        self.classification_weight = float(classification_weight)
        self.reconstruction_weight = float(reconstruction_weight)

    def forward(self, logits, reconstruction, target, inputs, return_terms=False):
        """The weighted loss of a batch.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
        reconstruction : torch.Tensor
            The decoder's output, of the shape of ``inputs``.
        target : torch.Tensor of shape (n_samples,)
            Class indices.
        inputs : torch.Tensor
            The input batch.
        return_terms : bool, default=False
            Also return the two unweighted terms.

        Returns
        -------
        loss : torch.Tensor
            The weighted sum, or ``(loss, classification, reconstruction)``
            with ``return_terms=True``.
        """
        if reconstruction.shape != inputs.shape:
            raise ValueError(
                f"reconstruction has shape {tuple(reconstruction.shape)} but the "
                f"inputs have shape {tuple(inputs.shape)}; the decoder must rebuild "
                "the input."
            )
        classification = F.cross_entropy(logits, target)
        error = F.mse_loss(reconstruction, inputs.to(reconstruction.dtype))
        total = (
            self.classification_weight * classification
            + self.reconstruction_weight * error
        )
        if return_terms:
            return total, classification, error
        return total

    def extra_repr(self):
        return (
            f"classification_weight={self.classification_weight}, "
            f"reconstruction_weight={self.reconstruction_weight}"
        )
