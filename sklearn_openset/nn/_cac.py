"""Class Anchor Clustering (CAC): anchors, distance layer, loss and score.

The network's logits live in a space with one fixed anchor per known class,
``magnitude * e_i``. Training pulls each sample's logits onto its class anchor
and away from the others; at test time the distances to the anchors (re-centred
on the training data) give both the class and the rejection score.
"""

from numbers import Integral

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "AnchorDistance",
    "CACLoss",
    "CACNet",
    "cac_rejection_score",
    "class_anchors",
]


def class_anchors(n_classes, magnitude=10.0, *, dtype=None, device=None):
    r"""Fixed CAC class anchors: ``magnitude`` times the identity matrix.

    Row ``i`` is the anchor of class ``i`` in the ``n_classes``-d logit space.

    Parameters
    ----------
    n_classes : int
        Number of known classes C.
    magnitude : float, default=10.0
        Anchor magnitude alpha (10 in the paper).
    dtype : torch.dtype, default=None
        Passed to :func:`torch.eye` (``None``: the default float dtype).
    device : torch.device or str, default=None
        Passed to :func:`torch.eye`.

    Returns
    -------
    anchors : torch.Tensor of shape (n_classes, n_classes)
        ``magnitude * torch.eye(n_classes)``.

    See Also
    --------
    AnchorDistance : Distances to these anchors.

    Notes
    -----
    The anchors are the scaled one-hot vectors
    :math:`\mathbf{c}_i = \alpha \mathbf{e}_i`, :math:`i = 1, \ldots, C` [1]_.

    References
    ----------
    .. [1] D. Miller, N. Sünderhauf, M. Milford and F. Dayoub, "Class Anchor
       Clustering: a Loss for Distance-based Open Set Recognition", WACV 2021.
       https://arxiv.org/abs/2004.02434; reference code
       https://github.com/dimitymiller/cac-openset

    Examples
    --------
    >>> from sklearn_openset.nn import class_anchors
    >>> class_anchors(3, magnitude=10.0)
    tensor([[10.,  0.,  0.],
            [ 0., 10.,  0.],
            [ 0.,  0., 10.]])
    """
    if (
        isinstance(n_classes, bool)
        or not isinstance(n_classes, Integral)
        or n_classes < 1
    ):
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}.")
    return float(magnitude) * torch.eye(int(n_classes), dtype=dtype, device=device)


def _distances_to(logits, anchors):
    # The difference form, not ||z||^2 + ||c||^2 - 2 z.c: the expanded form
    # cancels catastrophically near an anchor (squared norms around 100 for
    # magnitude 10), and these distances feed exponentials in the loss.
    return torch.cdist(
        logits,
        anchors.to(dtype=logits.dtype),
        compute_mode="donot_use_mm_for_euclid_dist",
    )


class AnchorDistance(nn.Module):
    r"""Euclidean distance from logit vectors to every class anchor.

    The anchors are a buffer, not a parameter: the optimizer never sees them,
    and they follow the module across devices, ``state_dict`` and pickling.

    Parameters
    ----------
    n_classes : int
        Number of known classes C; the logits must be C-dimensional.
    magnitude : float, default=10.0
        Magnitude alpha of the initial anchors ``alpha * I``.

    Attributes
    ----------
    anchors : torch.Tensor of shape (n_classes, n_classes)
        Current anchors, one row per class (a registered buffer).

    See Also
    --------
    class_anchors : The initial anchors.
    CACLoss : The loss trained on these distances.
    CACNet : A backbone followed by this layer.

    Notes
    -----
    For the logits :math:`\mathbf{z} = f(\mathbf{x})` of a sample the layer
    returns the distance vector [1]_

    .. math::

        \mathbf{d} = \bigl(\lVert \mathbf{z} - \mathbf{c}_1 \rVert_2, \ldots,
        \lVert \mathbf{z} - \mathbf{c}_C \rVert_2\bigr).

    The anchors start as :math:`\mathbf{c}_i = \alpha \mathbf{e}_i` and stay
    fixed during training; after training the method replaces them by the mean
    logits of the correctly classified training samples of each class
    (:meth:`set_anchors`).

    Distances are computed in the dtype of the logits from the differences
    :math:`\mathbf{z} - \mathbf{c}_i` (``torch.cdist`` with
    ``compute_mode="donot_use_mm_for_euclid_dist"``), which stays accurate for
    logits close to an anchor. The gradient at zero distance is 0.

    References
    ----------
    .. [1] D. Miller, N. Sünderhauf, M. Milford and F. Dayoub, "Class Anchor
       Clustering: a Loss for Distance-based Open Set Recognition", WACV 2021.
       https://arxiv.org/abs/2004.02434; reference code
       https://github.com/dimitymiller/cac-openset

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import AnchorDistance
    >>> dist = AnchorDistance(n_classes=3, magnitude=10.0)
    >>> dist(torch.tensor([[10.0, 0.0, 0.0]]))
    tensor([[ 0.0000, 14.1421, 14.1421]])
    >>> dist.set_anchors(torch.eye(3))
    >>> dist(torch.tensor([[1.0, 0.0, 0.0]]))
    tensor([[0.0000, 1.4142, 1.4142]])
    """

    def __init__(self, n_classes, magnitude=10.0):
        super().__init__()
        self.register_buffer("anchors", class_anchors(n_classes, magnitude))
        self.n_classes = int(n_classes)
        self.magnitude = float(magnitude)

    def set_anchors(self, anchors):
        """Replace the anchors in place (no gradient; device and dtype kept).

        Parameters
        ----------
        anchors : array-like or torch.Tensor of shape (n_classes, n_classes)
            New anchors, row ``i`` for class ``i`` (in CAC, the mean logits of
            the correctly classified training samples of class ``i``).
        """
        anchors = torch.as_tensor(anchors)
        if tuple(anchors.shape) != tuple(self.anchors.shape):
            raise ValueError(
                f"anchors must have shape {tuple(self.anchors.shape)}, "
                f"got {tuple(anchors.shape)}."
            )
        if not torch.isfinite(anchors).all():
            raise ValueError("anchors must be finite.")
        with torch.no_grad():
            self.anchors.copy_(anchors)

    def forward(self, logits):
        """Distances to the anchors.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Output of the backbone.

        Returns
        -------
        distances : torch.Tensor of shape (n_samples, n_classes)
            ``distances[k, i]`` is the Euclidean distance from ``logits[k]`` to
            the anchor of class ``i``, in the dtype of ``logits``.
        """
        if logits.ndim != 2 or logits.shape[1] != self.n_classes:
            raise ValueError(
                f"logits must have shape (n_samples, {self.n_classes}), "
                f"got {tuple(logits.shape)}."
            )
        return _distances_to(logits, self.anchors)

    def extra_repr(self):
        return f"n_classes={self.n_classes}, magnitude={self.magnitude}"


class CACLoss(nn.Module):
    r"""Class Anchor Clustering loss on distances to the class anchors.

    Called as ``loss(distances, target)`` with the output of
    :class:`AnchorDistance`; returns the batch mean of
    ``tuplet + lambda_anchor * anchor``.

    Parameters
    ----------
    magnitude : float, default=10.0
        Anchor magnitude alpha. The loss reads only the distances and does not
        use this value; it is accepted so that one ``magnitude`` setting can be
        routed to both the module and the criterion of a skorch net, and it
        shows in the ``repr``.
    lambda_anchor : float, default=0.1
        Weight lambda of the anchor term (0.1 in the paper).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses are reduced; ``"none"`` returns shape
        ``(n_samples,)``. The two terms are reduced the same way.

    Attributes
    ----------
    last_anchor_loss : torch.Tensor or None
        Anchor term of the last call (reduced, detached); ``None`` before the
        first call. The reference code keeps the checkpoint with the lowest
        validation anchor loss.
    last_tuplet_loss : torch.Tensor or None
        Tuplet term of the last call (reduced, detached).

    See Also
    --------
    AnchorDistance : Computes the distances this loss takes.
    cac_rejection_score : The test-time score on the same distances.

    Notes
    -----
    With :math:`d_j` the distance of a sample's logits to the anchor of class
    :math:`j` (:class:`AnchorDistance`) and :math:`y` its true class, the
    per-sample terms of [1]_ are the tuplet loss, summed over every other
    class,

    .. math::

        L_T = \log\Bigl(1 + \sum_{j \neq y} e^{d_y - d_j}\Bigr),

    and the anchor loss

    .. math::

        L_A = d_y,

    combined as

    .. math::

        L_{CAC} = \frac{1}{N} \sum_{k=1}^{N} \bigl(L_T^{(k)}
        + \lambda L_A^{(k)}\bigr).

    :math:`L_T` is evaluated as :math:`\operatorname{logsumexp}_{j=1}^{C}
    (d_y - d_j)`: the :math:`j = y` term is :math:`e^0 = 1`, the "1 +" of the
    formula, so the value is exact and cannot overflow whatever the distances.
    This matches the loss of the reference code (which sums the exponentials
    directly, in float64).

    References
    ----------
    .. [1] D. Miller, N. Sünderhauf, M. Milford and F. Dayoub, "Class Anchor
       Clustering: a Loss for Distance-based Open Set Recognition", WACV 2021.
       https://arxiv.org/abs/2004.02434; reference code
       https://github.com/dimitymiller/cac-openset

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import AnchorDistance, CACLoss
    >>> dist = AnchorDistance(n_classes=2, magnitude=10.0)
    >>> loss = CACLoss(lambda_anchor=0.1)
    >>> logits = torch.zeros(2, 2)  # as far from both anchors: d = (10, 10)
    >>> total, anchor, tuplet = loss(dist(logits), torch.tensor([0, 1]),
    ...                              return_terms=True)
    >>> anchor, tuplet  # L_A = 10, L_T = log(1 + e^0)
    (tensor(10.), tensor(0.6931))
    >>> total
    tensor(1.6931)
    """

    def __init__(self, magnitude=10.0, lambda_anchor=0.1, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}."
            )
        self.magnitude = float(magnitude)
        self.lambda_anchor = float(lambda_anchor)
        self.reduction = reduction
        self.last_anchor_loss = None
        self.last_tuplet_loss = None

    def _reduce(self, values):
        if self.reduction == "mean":
            return values.mean()
        if self.reduction == "sum":
            return values.sum()
        return values

    def forward(self, distances, target, return_terms=False):
        """CAC loss of a batch.

        Parameters
        ----------
        distances : torch.Tensor of shape (n_samples, n_classes)
            Distances to the class anchors, from :class:`AnchorDistance`.
        target : torch.Tensor of shape (n_samples,)
            Class indices in ``[0, n_classes)``, any integer dtype.
        return_terms : bool, default=False
            Also return the anchor and tuplet terms.

        Returns
        -------
        loss : torch.Tensor
            ``tuplet + lambda_anchor * anchor``, reduced by ``reduction``.
        anchor : torch.Tensor
            Only with ``return_terms=True``: the anchor term, reduced the same
            way and still attached to the graph.
        tuplet : torch.Tensor
            Only with ``return_terms=True``: the tuplet term, likewise.
        """
        if distances.ndim != 2:
            raise ValueError(
                "distances must have shape (n_samples, n_classes), "
                f"got {tuple(distances.shape)}."
            )
        target = torch.as_tensor(target, device=distances.device)
        if target.ndim != 1 or target.shape[0] != distances.shape[0]:
            raise ValueError(
                f"target must have shape ({distances.shape[0]},), "
                f"got {tuple(target.shape)}."
            )
        if target.is_floating_point() or target.is_complex():
            raise ValueError(
                f"target must hold integer class indices, got {target.dtype}."
            )
        # Out-of-range indices are left to gather, which raises on CPU; an
        # explicit range check would force a host sync on every GPU batch.
        d_true = distances.gather(1, target.long().unsqueeze(1))
        anchor = self._reduce(d_true.squeeze(1))
        tuplet = self._reduce(torch.logsumexp(d_true - distances, dim=1))
        total = tuplet + self.lambda_anchor * anchor
        self.last_anchor_loss = anchor.detach()
        self.last_tuplet_loss = tuplet.detach()
        if return_terms:
            return total, anchor, tuplet
        return total

    def extra_repr(self):
        return (
            f"magnitude={self.magnitude}, lambda_anchor={self.lambda_anchor}, "
            f"reduction={self.reduction!r}"
        )


def cac_rejection_score(distances):
    r"""Per-class CAC rejection score ``d * (1 - softmin(d))``.

    Parameters
    ----------
    distances : torch.Tensor of shape (n_samples, n_classes)
        Distances to the class anchors, from :class:`AnchorDistance`.

    Returns
    -------
    scores : torch.Tensor of shape (n_samples, n_classes)
        Lower means more like class ``j``. The estimator takes the min over
        classes as the sample's unknown score (higher is more unknown).

    See Also
    --------
    AnchorDistance : Computes the distances.

    Notes
    -----
    For a sample's distance vector :math:`\mathbf{d}` [1]_:

    .. math::

        \mathbf{s} = \mathbf{d} \circ
        \bigl(1 - \operatorname{softmin}(\mathbf{d})\bigr),
        \qquad
        \operatorname{softmin}(\mathbf{d})_j
        = \frac{e^{-d_j}}{\sum_k e^{-d_k}}.

    A sample scores high when it is far from its nearest anchor, and the more
    so when it is about as far from the others. The softmin is computed as
    ``softmax(-d)``, which is stable for any distances.

    References
    ----------
    .. [1] D. Miller, N. Sünderhauf, M. Milford and F. Dayoub, "Class Anchor
       Clustering: a Loss for Distance-based Open Set Recognition", WACV 2021.
       https://arxiv.org/abs/2004.02434; reference code
       https://github.com/dimitymiller/cac-openset

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import cac_rejection_score
    >>> d = torch.tensor([[1.0, 5.0], [3.0, 3.0]])
    >>> cac_rejection_score(d)
    tensor([[0.0180, 4.9101],
            [1.5000, 1.5000]])
    """
    if distances.ndim != 2:
        raise ValueError(
            "distances must have shape (n_samples, n_classes), "
            f"got {tuple(distances.shape)}."
        )
    return distances * (1.0 - F.softmax(-distances, dim=1))


class CACNet(nn.Module):
    """A backbone followed by :class:`AnchorDistance`: ``x -> (logits, distances)``.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps an input batch to logits of shape ``(n_samples, n_classes)``, e.g.
        :class:`~sklearn_openset.nn.MLP` or
        :class:`~sklearn_openset.nn.Classifier32` with ``n_outputs=n_classes``.
    n_classes : int
        Number of known classes C.
    magnitude : float, default=10.0
        Magnitude alpha of the initial anchors.

    Attributes
    ----------
    backbone : torch.nn.Module
        The backbone given.
    distance : AnchorDistance
        The distance layer; holds the anchors.
    anchors : torch.Tensor of shape (n_classes, n_classes)
        The current anchors (``distance.anchors``).

    See Also
    --------
    AnchorDistance : The distance layer.
    CACLoss : The loss for ``distances``.

    Notes
    -----
    ``forward`` returns a tuple, so a skorch net around this module must unpack
    it in ``get_loss``: ``criterion(y_pred[1], y_true)`` with :class:`CACLoss`.
    skorch's ``predict_proba`` keeps only the first element of a tuple (the
    logits); CAC's class predictions and rejection scores come from the
    distances, ``y_pred[1]`` (``net.forward(X)`` returns both).

    References
    ----------
    .. [1] D. Miller, N. Sünderhauf, M. Milford and F. Dayoub, "Class Anchor
       Clustering: a Loss for Distance-based Open Set Recognition", WACV 2021.
       https://arxiv.org/abs/2004.02434; reference code
       https://github.com/dimitymiller/cac-openset

    Examples
    --------
    >>> import torch
    >>> from sklearn_openset.nn import MLP, CACNet
    >>> net = CACNet(MLP(4, 3, hidden_layer_sizes=(16,)), n_classes=3)
    >>> logits, distances = net(torch.randn(5, 4))
    >>> logits.shape, distances.shape
    (torch.Size([5, 3]), torch.Size([5, 3]))
    """

    def __init__(self, backbone, n_classes, magnitude=10.0):
        super().__init__()
        self.backbone = backbone
        self.distance = AnchorDistance(n_classes, magnitude)
        self.n_classes = self.distance.n_classes
        self.magnitude = self.distance.magnitude

    @property
    def anchors(self):
        """The current anchors, shape ``(n_classes, n_classes)``.

        Returns
        -------
        anchors : torch.Tensor of shape (n_classes, n_classes)
            ``distance.anchors`` itself (not a copy).
        """
        return self.distance.anchors

    def set_anchors(self, anchors):
        """Replace the anchors; see :meth:`AnchorDistance.set_anchors`.

        Parameters
        ----------
        anchors : array-like or torch.Tensor of shape (n_classes, n_classes)
            New anchors, row ``i`` for class ``i``.
        """
        self.distance.set_anchors(anchors)

    def forward_features(self, x):
        """The backbone's ``forward_features`` (for backbones that have one).

        Parameters
        ----------
        x : torch.Tensor
            Input batch for the backbone.

        Returns
        -------
        features : torch.Tensor of shape (n_samples, backbone.feature_dim)
            The backbone's penultimate features.
        """
        return self.backbone.forward_features(x)

    def forward(self, x):
        """Logits and distances to the anchors.

        Parameters
        ----------
        x : torch.Tensor
            Input batch for the backbone.

        Returns
        -------
        logits : torch.Tensor of shape (n_samples, n_classes)
            Output of the backbone.
        distances : torch.Tensor of shape (n_samples, n_classes)
            Euclidean distances from the logits to the class anchors.
        """
        logits = self.backbone(x)
        return logits, self.distance(logits)
