"""Backbone networks: a multi-layer perceptron for vectors and the 32x32 CNN.

Both modules map an input batch to logits and expose the penultimate features
through ``forward_features`` (OpenMax, CROSR and ANS work on those), with
``forward(x) == head(forward_features(x))``.
"""

from numbers import Integral

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MLP", "Classifier32", "cifar_resnet18"]

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


def _check_positive_int(value, name):
    # Integral admits numpy integers (sizes often come from array shapes);
    # bool is excluded: True as a layer size is a bug, not a size.
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _check_dropout(dropout):
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")


def _check_fully_connected(
    n_features, n_outputs, hidden_layer_sizes, dropout, activation, *, outputs_name
):
    """Validated sizes, dropout and activation of a fully connected network.

    Returns ``(n_features, n_outputs, hidden_layer_sizes, dropout)`` as int,
    int, tuple of int and float; ``outputs_name`` names ``n_outputs`` in the
    error messages.
    """
    n_features = _check_positive_int(n_features, "n_features")
    n_outputs = _check_positive_int(n_outputs, outputs_name)
    hidden_layer_sizes = tuple(
        _check_positive_int(size, "each hidden layer size")
        for size in hidden_layer_sizes
    )
    _check_dropout(dropout)
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}."
        )
    return n_features, n_outputs, hidden_layer_sizes, float(dropout)


class MLP(nn.Module):
    """Fully connected network from feature vectors to logits.

    Each hidden layer is ``Linear -> activation -> Dropout``; the output layer
    (:attr:`head`) is a plain ``Linear`` giving one logit per output.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_outputs : int
        Number of logits (the number of known classes for a classifier).
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Width of each hidden layer. An empty tuple gives a linear model whose
        "features" are the inputs themselves.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (train mode only).
    activation : {"relu", "leaky_relu", "gelu", "tanh", "logistic", \
"identity"}, default="relu"
        Hidden-layer non-linearity (scikit-learn's names where they exist;
        ``"leaky_relu"`` uses slope 0.01).

    Attributes
    ----------
    hidden : torch.nn.Sequential
        The hidden layers (empty when ``hidden_layer_sizes == ()``).
    head : torch.nn.Linear
        The output layer, ``feature_dim -> n_outputs``.
    feature_dim : int
        Size of the vectors returned by :meth:`forward_features`: the last
        hidden width, or ``n_features`` without hidden layers.

    See Also
    --------
    Classifier32 : The backbone for small images.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import MLP
    >>> net = MLP(n_features=20, n_outputs=5, hidden_layer_sizes=(64, 32))
    >>> x = torch.randn(8, 20)
    >>> net(x).shape
    torch.Size([8, 5])
    >>> net.forward_features(x).shape
    torch.Size([8, 32])
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_layer_sizes=(256, 128),
        dropout=0.0,
        activation="relu",
    ):
        super().__init__()
        n_features, n_outputs, hidden_layer_sizes, dropout = _check_fully_connected(
            n_features,
            n_outputs,
            hidden_layer_sizes,
            dropout,
            activation,
            outputs_name="n_outputs",
        )
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.activation = activation

        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), _ACTIVATIONS[activation]()]
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            width = size
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)
        self.feature_dim = width

    def forward_features(self, x):
        """Penultimate features: the output of the last hidden layer.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Input batch.

        Returns
        -------
        features : torch.Tensor of shape (n_samples, feature_dim)
            Output of the last hidden layer (after its activation and dropout).
        """
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"MLP expects input of shape (n_samples, {self.n_features}), "
                f"got {tuple(x.shape)}."
            )
        return self.hidden(x)

    def forward(self, x):
        """Logits, ``head(forward_features(x))``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
            Input batch.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_outputs)
            One unnormalised score per output.
        """
        return self.head(self.forward_features(x))


def _conv_bn(in_channels, out_channels, stride):
    # No conv bias: the BatchNorm that follows has its own shift.
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2),
    ]


class Classifier32(nn.Module):
    """The 9-layer "classifier32" CNN of the open-set recognition benchmarks.

    Three groups of three 3x3 convolutions (64-64-128, 128-128-128,
    128-128-128 channels), the last convolution of each group with stride 2,
    each convolution followed by BatchNorm and LeakyReLU(0.2); a Dropout2d
    after each group, as in the CAC reference code; the final 4x4x128 map
    globally average-pooled to a 128-d feature vector (or flattened to 2048,
    as in the CAC reference code) and a linear layer to the logits.

    Parameters
    ----------
    n_outputs : int
        Number of logits (the number of known classes for a classifier).
    in_channels : int, default=3
        Number of image channels (1 for MNIST and scikit-learn's digits).
    dropout : float, default=0.2
        Probability of each ``Dropout2d`` (whole feature maps of a group's
        output are dropped, in train mode only; 0.2 is the reference code's
        value for MNIST, SVHN and CIFAR).
    pooling : {"avg", "flatten"}, default="avg"
        How the final 4x4x128 map becomes the feature vector: ``"avg"``, the
        128 channel means (the open-set baselines' classifier32); ``"flatten"``,
        all 2048 values (the CAC reference code).

    Attributes
    ----------
    group1, group2, group3 : torch.nn.Sequential
        The three convolution groups, each ending with its ``Dropout2d``.
    head : torch.nn.Linear
        The output layer, ``feature_dim -> n_outputs``.
    feature_dim : int
        Size of the vectors returned by :meth:`forward_features`: 128 with
        ``pooling="avg"``, 2048 with ``pooling="flatten"``.

    See Also
    --------
    MLP : The backbone for feature vectors.

    Notes
    -----
    **Input size.** The network is built for 32x32 images: after the three
    stride-2 convolutions the maps are 4x4. Any other size is resized to 32x32
    inside the module with ``torch.nn.functional.interpolate(mode="bilinear",
    align_corners=False)``, so MNIST (28x28) and scikit-learn's digits (8x8) go
    in as they are. Larger images are shrunk without an anti-aliasing filter;
    resize them beforehand if that matters. The input must be a float tensor of
    shape ``(n_samples, in_channels, height, width)``.

    **Parameter count.** ``997376 + 576 * in_channels + 129 * n_outputs``
    trainable parameters: the convolutions hold
    ``9 * (64 * in_channels + 64 * 64 + 64 * 128 + 6 * 128 * 128)``, the nine
    BatchNorm layers ``2 * (64 + 64 + 7 * 128) = 2048``, the head
    ``128 * n_outputs + n_outputs``. For example 1,000,394 for RGB input and 10
    classes, 998,726 for grey-scale input and 6 classes. ``pooling="flatten"``
    adds ``1920 * n_outputs`` to the head.

    **Sources.** The nine convolutions are the classifier32 of Neal et al.
    [1]_. The dropout follows the CAC reference code [2]_: one ``Dropout2d``
    after the last activation of each group, so that it drops feature maps of
    the group's output and never the input image (a ``Dropout2d`` on the input
    would blank a whole grey-scale image with probability ``dropout``). The
    classifier32 of Neal et al.'s code and of later open-set baselines places
    its three ``Dropout2d`` differently: on the input image and after the
    first two groups, none after the third. By
    default the 4x4x128 output is globally average-pooled to 128 features, as
    in the open-set baselines that use classifier32; the CAC reference code
    flattens it into a 2048-d vector (``pooling="flatten"``). The choice
    matters for CAC: its logits must grow to the anchors' magnitude (10), and
    from the small initial head weights (N(0, 0.01^2)) a head over 2048
    features gets there in far fewer steps than one over 128 channel means.

    Weights are initialised as in the CAC reference code: Kaiming-normal
    convolutions (``mode="fan_out"``), BatchNorm scale 1 and shift 0, linear
    weights drawn from N(0, 0.01^2) and zero bias.

    **Short training.** The BatchNorm running statistics, which eval mode
    uses, start at mean 0 and variance 1 and move 10% towards each training
    batch's statistics. The first convolution of a grey-scale image in
    [0, 1] gives outputs of variance about 0.003 at initialisation, so after
    a few dozen steps the running variance is still far too large and the
    network in eval mode is much worse than in train mode (measured on 1000
    MNIST images: 97% training accuracy but 61% test accuracy in eval mode
    after 40 SGD steps). The reference code makes hundreds of steps per
    epoch, where this does not show; with few training samples, train for
    more steps (smaller ``batch_size`` or more epochs).

    References
    ----------
    .. [1] L. Neal, M. Olson, X. Fern, W.-K. Wong and F. Li, "Open Set Learning
       with Counterfactual Images", ECCV 2018.
    .. [2] D. Miller, N. Sünderhauf, M. Milford and F. Dayoub, "Class Anchor
       Clustering: a Loss for Distance-based Open Set Recognition", WACV 2021.
       https://github.com/dimitymiller/cac-openset

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import Classifier32
    >>> net = Classifier32(n_outputs=6, in_channels=1).eval()
    >>> x = torch.randn(4, 1, 28, 28)  # resized to 32x32 inside
    >>> net(x).shape
    torch.Size([4, 6])
    >>> net.forward_features(x).shape
    torch.Size([4, 128])
    >>> sum(p.numel() for p in net.parameters())
    998726
    """

    image_size = 32

    def __init__(self, n_outputs, in_channels=3, dropout=0.2, pooling="avg"):
        super().__init__()
        n_outputs = _check_positive_int(n_outputs, "n_outputs")
        in_channels = _check_positive_int(in_channels, "in_channels")
        _check_dropout(dropout)
        if pooling not in ("avg", "flatten"):
            raise ValueError(f"pooling must be 'avg' or 'flatten', got {pooling!r}.")
        self.pooling = pooling
        self.n_outputs = n_outputs
        self.in_channels = in_channels
        self.dropout = float(dropout)

        self.group1 = nn.Sequential(
            *_conv_bn(in_channels, 64, 1),
            *_conv_bn(64, 64, 1),
            *_conv_bn(64, 128, 2),
            nn.Dropout2d(self.dropout),
        )
        self.group2 = nn.Sequential(
            *_conv_bn(128, 128, 1),
            *_conv_bn(128, 128, 1),
            *_conv_bn(128, 128, 2),
            nn.Dropout2d(self.dropout),
        )
        self.group3 = nn.Sequential(
            *_conv_bn(128, 128, 1),
            *_conv_bn(128, 128, 1),
            *_conv_bn(128, 128, 2),
            nn.Dropout2d(self.dropout),
        )
        self.feature_dim = 128 if pooling == "avg" else 128 * 4 * 4
        self.head = nn.Linear(self.feature_dim, n_outputs)
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x):
        """Output of the last convolution group, pooled or flattened.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_channels, height, width)
            Images of any size; those that are not 32x32 are resized to 32x32
            (bilinear, ``align_corners=False``).

        Returns
        -------
        features : torch.Tensor of shape (n_samples, feature_dim)
            Channel means of the last 4x4 feature map (``pooling="avg"``), or
            the whole map flattened channel by channel (``"flatten"``).
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                "Classifier32 expects images of shape (n_samples, "
                f"{self.in_channels}, height, width), got {tuple(x.shape)}."
            )
        size = (self.image_size, self.image_size)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        x = self.group3(self.group2(self.group1(x)))
        if self.pooling == "avg":
            x = F.adaptive_avg_pool2d(x, 1)
        return torch.flatten(x, 1)

    def forward(self, x):
        """Logits, ``head(forward_features(x))``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_channels, height, width)
            Images of any size (resized to 32x32 when needed).

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_outputs)
            One unnormalised score per output.
        """
        return self.head(self.forward_features(x))


def cifar_resnet18(n_outputs, in_channels=3):
    """torchvision's ResNet-18 with the CIFAR stem, for small images.

    :func:`torchvision.models.resnet18` (random weights) with its first
    convolution replaced by a 3x3 convolution of stride 1 and no max pooling
    after it, the stem used on 32x32 images in the open-set and active
    learning papers (ImageNet's 7x7 stride-2 convolution and pooling would
    shrink a 32x32 image to 8x8 before the first block). The LfOSA paper's
    detector and classifier are this network (Ning et al., CVPR 2022).

    Parameters
    ----------
    n_outputs : int
        Number of logits.
    in_channels : int, default=3
        Number of image channels (1 for MNIST).

    Returns
    -------
    module : torchvision.models.ResNet
        The network, mapping ``(n, in_channels, height, width)`` images to
        ``(n, n_outputs)`` logits. Any size of at least 8x8 works (global
        average pooling ends it).

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import cifar_resnet18
    >>> net = cifar_resnet18(n_outputs=5, in_channels=1).eval()
    >>> net(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 5])
    """
    from torchvision.models import resnet18

    n_outputs = _check_positive_int(n_outputs, "n_outputs")
    in_channels = _check_positive_int(in_channels, "in_channels")
    network = resnet18(weights=None, num_classes=n_outputs)
    network.conv1 = nn.Conv2d(
        in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False
    )
    network.maxpool = nn.Identity()
    return network
