"""One-vs-rest heads and adaptive negative synthesis (ANS).

All the binary heads of the one-vs-rest layer live in one module with stacked
weights, so that they train and predict together in a few batched matrix
products instead of one head after another. The synthesis of adaptive negative
samples is projected gradient ascent in feature space on the heads' loss.
"""

import itertools
import math

import torch
from torch import nn
from torch.nn import functional as F

from ._backbones import _ACTIVATIONS, _check_fully_connected

__all__ = [
    "OneVsRestHeads",
    "OneVsRestNet",
    "project_to_shell",
    "synthesize_negatives",
]

SYNTHESIS_MODES = ("adaptive", "projection", "noise", "none")


class OneVsRestHeads(nn.Module):
    """C binary MLP heads with stacked weights, evaluated in batched products.

    Head ``c`` is the MLP ``Linear -> activation -> Dropout -> ... -> Linear``
    with one output logit; the weights of layer ``l`` of all heads are one
    tensor of shape ``(n_heads, in_features, out_features)``. A 2-d input
    goes through every head (one matrix product per layer); a 3-d input
    ``(n_heads, m, n_features)`` gives head ``c`` its own rows ``x[c]`` (one
    batched product, :func:`torch.baddbmm`, per layer).

    Parameters
    ----------
    n_features : int
        Size of the input feature vectors.
    n_heads : int
        Number of binary heads (the number of known classes).
    hidden_layer_sizes : tuple of int, default=(256, 64)
        Hidden widths of every head (the ANS paper's (256, 64)).
    dropout : float, default=0.1
        Dropout probability after each hidden activation (train mode only).
    activation : str, default="relu"
        Hidden non-linearity, as in :class:`MLP`.

    Attributes
    ----------
    weights : torch.nn.ParameterList
        ``weights[l]`` of shape ``(n_heads, fan_in, fan_out)``.
    biases : torch.nn.ParameterList
        ``biases[l]`` of shape ``(n_heads, fan_out)``.

    See Also
    --------
    OneVsRestNet : The heads together with the known-class classifier.

    Notes
    -----
    Every head is initialised like a stack of :class:`torch.nn.Linear`
    layers (weights and biases uniform in :math:`\\pm 1/\\sqrt{\\text{fan\\_in}}`),
    so :meth:`head` returns a plain ``nn.Sequential`` that computes exactly
    what the batched module computes for that head.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import OneVsRestHeads
    >>> heads = OneVsRestHeads(n_features=8, n_heads=3).eval()
    >>> x = torch.randn(5, 8)
    >>> heads(x).shape
    torch.Size([5, 3])
    >>> torch.allclose(heads(x)[:, 1], heads.head(1)(x)[:, 0], atol=1e-6)
    True
    """

    def __init__(
        self,
        n_features,
        n_heads,
        hidden_layer_sizes=(256, 64),
        dropout=0.1,
        activation="relu",
    ):
        super().__init__()
        n_features, n_heads, hidden_layer_sizes, dropout = _check_fully_connected(
            n_features,
            n_heads,
            hidden_layer_sizes,
            dropout,
            activation,
            outputs_name="n_heads",
        )
        self.n_features = n_features
        self.n_heads = n_heads
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.activation = activation
        self.act = _ACTIVATIONS[activation]()

        sizes = (n_features, *hidden_layer_sizes, 1)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1.0 / math.sqrt(fan_in)
            # nn.Linear's default initialisation, drawn head by head so that
            # head c is what nn.Linear would draw.
            weight = torch.empty(n_heads, fan_in, fan_out).uniform_(-bound, bound)
            bias = torch.empty(n_heads, fan_out).uniform_(-bound, bound)
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(bias))

    def _hidden(self, h):
        h = self.act(h)
        if self.dropout > 0:
            h = F.dropout(h, self.dropout, training=self.training)
        return h

    def forward(self, x):
        """Logits of the heads.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features) or \
(n_heads, m, n_features)
            A 2-d batch goes through every head; a 3-d batch gives head ``c``
            the rows ``x[c]``.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_heads) or (n_heads, m)
            For a 2-d input, column ``c`` is head ``c``'s logit of each
            sample; for a 3-d input, row ``c`` holds head ``c``'s logits of
            its own rows.
        """
        n_layers = len(self.weights)
        if x.ndim == 2:
            if x.shape[1] != self.n_features:
                raise ValueError(
                    f"OneVsRestHeads expects inputs with {self.n_features} features, "
                    f"got {tuple(x.shape)}."
                )
            # First layer of every head in one matrix product:
            # (n, d) @ (d, C * h) -> (C, n, h).
            weight, bias = self.weights[0], self.biases[0]
            n_heads, fan_in, fan_out = weight.shape
            flat = weight.permute(1, 0, 2).reshape(fan_in, n_heads * fan_out)
            h = (x @ flat).view(x.shape[0], n_heads, fan_out).transpose(0, 1)
            h = h + bias[:, None, :]
            start = 1
        elif x.ndim == 3:
            if x.shape[0] != self.n_heads or x.shape[2] != self.n_features:
                raise ValueError(
                    "OneVsRestHeads expects a 3-d input of shape "
                    f"({self.n_heads}, m, {self.n_features}), got {tuple(x.shape)}."
                )
            h = x
            start = 0
        else:
            raise ValueError(
                f"OneVsRestHeads expects a 2-d or 3-d input, got {x.ndim} dimensions."
            )
        for layer in range(start, n_layers):
            if layer > 0:
                h = self._hidden(h)
            h = torch.baddbmm(self.biases[layer][:, None, :], h, self.weights[layer])
        logits = h[..., 0]  # (C, m)
        return logits.T if x.ndim == 2 else logits

    def head(self, index):
        """Head ``index`` as a stand-alone ``nn.Sequential`` (a copy).

        Parameters
        ----------
        index : int
            Which head.

        Returns
        -------
        head : torch.nn.Sequential
            ``Linear`` layers with the head's weights, the activation and the
            dropout in between, mapping ``(n, n_features)`` to ``(n, 1)``.
        """
        layers = []
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            if layer > 0:
                layers.append(_ACTIVATIONS[self.activation]())
                if self.dropout > 0:
                    layers.append(nn.Dropout(self.dropout))
            fan_in, fan_out = weight.shape[1:]
            linear = nn.Linear(fan_in, fan_out)
            with torch.no_grad():
                linear.weight.copy_(weight[index].T)
                linear.bias.copy_(bias[index])
            layers.append(linear)
        return nn.Sequential(*layers).to(self.weights[0].device).train(self.training)


class OneVsRestNet(nn.Module):
    """A known-class classifier and one-vs-rest heads on the same features.

    Parameters
    ----------
    classifier : torch.nn.Module
        Maps ``(n, n_features)`` to ``(n, n_classes)`` closed-set logits.
    heads : OneVsRestHeads
        One binary head per known class.
    radius : torch.Tensor of shape (n_classes,)
        Inner radius of the shell of each class's synthesized negatives.
    noise_std : torch.Tensor of shape (n_classes, n_features)
        Standard deviation of the initial perturbation of each class
        (``2 * sqrt(diag(Sigma_c))`` in ANS), in the standardized space.
    shift, scale : torch.Tensor of shape (n_features,), default=None
        Standardization applied to the input before the classifier and the
        heads: ``z = (x - shift) / scale``. ``None``: the identity.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import OneVsRestHeads, OneVsRestNet
    >>> net = OneVsRestNet(torch.nn.Linear(8, 3), OneVsRestHeads(8, 3),
    ...                    radius=torch.ones(3), noise_std=torch.ones(3, 8))
    >>> class_logits, head_logits = net(torch.randn(5, 8))
    >>> class_logits.shape, head_logits.shape
    (torch.Size([5, 3]), torch.Size([5, 3]))
    """

    def __init__(self, classifier, heads, radius, noise_std, shift=None, scale=None):
        super().__init__()
        self.classifier = classifier
        self.heads = heads
        n_features = heads.n_features
        shift = torch.zeros(n_features) if shift is None else shift
        scale = torch.ones(n_features) if scale is None else scale
        self.register_buffer("radius", torch.as_tensor(radius, dtype=torch.float32))
        self.register_buffer(
            "noise_std", torch.as_tensor(noise_std, dtype=torch.float32)
        )
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def standardize(self, x):
        """The features seen by the classifier and the heads, ``(x - shift) / scale``."""
        return (x - self.shift) / self.scale

    def forward(self, x, heads=True):
        """Closed-set logits and head logits.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
        heads : bool, default=True
            ``False`` gives the closed-set logits only (ANS trains the heads
            on batches of its own, so its training forward skips them).

        Returns
        -------
        class_logits : torch.Tensor of shape (n_samples, n_classes)
        head_logits : torch.Tensor of shape (n_samples, n_classes)
            Only with ``heads=True``.
        """
        z = self.standardize(x)
        if not heads:
            return self.classifier(z)
        return self.classifier(z), self.heads(z)

    def classify(self, x):
        """Closed-set logits only, ``classifier(standardize(x))``."""
        return self.classifier(self.standardize(x))

    def head_logits(self, x):
        """Head logits only, ``heads(standardize(x))``."""
        return self.heads(self.standardize(x))


def project_to_shell(z_tilde, z, inner, outer):
    """Project points onto the shell ``inner <= ||z_tilde - z|| <= outer``.

    Each point keeps its direction from its anchor ``z``; only its distance
    is clipped into ``[inner, outer]``. A point exactly on its anchor (no
    direction) is moved along the first coordinate axis.

    Parameters
    ----------
    z_tilde : torch.Tensor of shape (..., n_features)
        The points.
    z : torch.Tensor of shape (..., n_features)
        Their anchors.
    inner, outer : float or torch.Tensor broadcastable to ``z.shape[:-1]``
        The shell's radii, ``0 < inner <= outer``.

    Returns
    -------
    projected : torch.Tensor of shape (..., n_features)

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import project_to_shell
    >>> z = torch.zeros(2, 2)
    >>> project_to_shell(torch.tensor([[0.1, 0.0], [0.0, 5.0]]), z, 1.0, 2.0)
    tensor([[1., 0.],
            [0., 2.]])
    """
    delta = z_tilde - z
    norm = torch.linalg.vector_norm(delta, dim=-1, keepdim=True)
    degenerate = norm == 0
    if degenerate.any():
        axis = torch.zeros_like(delta)
        axis[..., 0] = 1.0
        delta = torch.where(degenerate, axis, delta)
        norm = torch.where(degenerate, torch.ones_like(norm), norm)
    inner = torch.as_tensor(inner, dtype=delta.dtype, device=delta.device)
    outer = torch.as_tensor(outer, dtype=delta.dtype, device=delta.device)
    clipped = torch.minimum(torch.maximum(norm, inner[..., None]), outer[..., None])
    return z + delta * (clipped / norm)


def synthesize_negatives(
    heads,
    z,
    *,
    radius,
    gamma,
    noise_std,
    n_steps=3,
    step_size=0.02,
    mode="adaptive",
    n_per_positive=1,
):
    """Synthesize negative samples around each positive (ANS, Algorithm 1).

    Head ``c`` gets negatives near its own positives ``z[c]``: starting from
    ``z + eps``, ``eps ~ N(0, diag(noise_std[c]^2))``, the points take
    ``n_steps`` normalized gradient-ascent steps on the head's loss for
    calling them negative (towards where the head takes them for
    positives), then are projected once onto the shell
    ``radius[c] <= ||z_tilde - z|| <= gamma * radius[c]``, as in the
    paper's Algorithm 1. The heads' parameters are not changed and get no
    gradient.

    Parameters
    ----------
    heads : OneVsRestHeads
    z : torch.Tensor of shape (n_heads, m, n_features)
        Positive samples of each head.
    radius : torch.Tensor of shape (n_heads,)
        Inner radius ``r`` of each head's shell.
    gamma : float
        Outer radius over inner radius (>= 1).
    noise_std : torch.Tensor of shape (n_heads, n_features)
        Standard deviation of the initial perturbation.
    n_steps : int, default=3
        Number of ascent steps ``k``.
    step_size : float, default=0.02
        Length of each step in units of the head's radius: a step moves a
        point by ``step_size * radius[c]``.
    mode : {"adaptive", "projection", "noise", "none"}, default="adaptive"
        ``"adaptive"``: noise, ascent and projection (ANS). ``"projection"``:
        the projected noise, no ascent. ``"noise"``: ``z + eps`` only.
        ``"none"``: no synthesis (returns None). The ablations of the paper.
    n_per_positive : int, default=1
        Negatives synthesized per positive, each from its own noise draw
        (the paper: one). Row ``j * m + i`` of head ``c`` belongs to the
        positive ``z[c, i]``.

    Returns
    -------
    z_tilde : torch.Tensor of shape (n_heads, n_per_positive * m, n_features) \
or None
        The synthesized negatives, detached from the graph.

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import OneVsRestHeads, synthesize_negatives
    >>> heads = OneVsRestHeads(4, 2)
    >>> z = torch.randn(2, 5, 4)
    >>> z_tilde = synthesize_negatives(heads, z, radius=torch.ones(2), gamma=2.0,
    ...                                noise_std=torch.ones(2, 4))
    >>> d = (z_tilde - z).norm(dim=-1)
    >>> bool(((d >= 1 - 1e-5) & (d <= 2 + 1e-5)).all())
    True
    """
    if mode not in SYNTHESIS_MODES:
        raise ValueError(f"mode must be one of {SYNTHESIS_MODES}, got {mode!r}.")
    if mode == "none":
        return None
    n_per_positive = int(n_per_positive)
    if n_per_positive < 1:
        raise ValueError(f"n_per_positive must be at least 1, got {n_per_positive}.")
    z = z.detach()
    if n_per_positive > 1:
        z = z.repeat(1, n_per_positive, 1)
    radius = radius.to(z)
    eps = (
        torch.randn(z.shape, dtype=z.dtype, device=z.device)
        * noise_std.to(z)[:, None, :]
    )
    z_tilde = z + eps
    if mode == "noise":
        return z_tilde
    inner = radius[:, None].expand(z.shape[:2])
    outer = gamma * inner
    if mode == "adaptive" and n_steps > 0:
        step = (step_size * radius)[:, None, None]
        was_training = heads.training
        heads.eval()
        try:
            for _ in range(n_steps):
                z_tilde = z_tilde.detach().requires_grad_(True)
                with torch.enable_grad():
                    # Binary cross-entropy of the label "negative": softplus(logit).
                    loss = F.softplus(heads(z_tilde)).sum()
                    (grad,) = torch.autograd.grad(loss, z_tilde)
                norm = torch.linalg.vector_norm(grad, dim=-1, keepdim=True)
                direction = grad / norm.clamp_min(torch.finfo(grad.dtype).tiny)
                z_tilde = z_tilde.detach() + step * direction
        finally:
            heads.train(was_training)
    # Algorithm 1 projects once, after the ascent ("projection": no ascent).
    return project_to_shell(z_tilde.detach(), z, inner, outer)
