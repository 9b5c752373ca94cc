"""Tests of the torch modules and losses in sklearn_openset.nn."""

import copy
import itertools
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sklearn_openset.nn import (
    MLP,
    AnchorDistance,
    CACLoss,
    CACNet,
    Classifier32,
    cac_rejection_score,
    class_anchors,
)

CLASS_COUNTS = (2, 3, 6, 10, 37)
BATCH_SIZES = (1, 7, 64)


# ---------------------------------------------------------------------------
# Naive references: the paper's formulas, one sample and one class at a time,
# in Python floats (double precision).
# ---------------------------------------------------------------------------


def naive_distances(logits, anchors):
    return [
        [
            math.sqrt(sum((zi - ci) ** 2 for zi, ci in zip(z, c, strict=True)))
            for c in anchors
        ]
        for z in logits
    ]


def naive_cac_terms(distances, target):
    """Per-sample (L_A, L_T): L_A = d_y, L_T = log(1 + sum_{j != y} e^(d_y - d_j))."""
    anchor, tuplet = [], []
    for d, y in zip(distances, target, strict=True):
        s = 0.0
        for j in range(len(d)):
            if j != y:
                s += math.exp(d[y] - d[j])
        anchor.append(d[y])
        tuplet.append(math.log(1.0 + s))
    return anchor, tuplet


def naive_cac_loss(distances, target, lambda_anchor):
    anchor, tuplet = naive_cac_terms(distances, target)
    mean_anchor = sum(anchor) / len(anchor)
    mean_tuplet = sum(tuplet) / len(tuplet)
    return mean_tuplet + lambda_anchor * mean_anchor, mean_anchor, mean_tuplet


def pytorch_ood_style_tuplet(distances, target):
    """The tuplet sum of pytorch-ood's CACLoss: over classes 0..C-2 whatever y.

    It keeps the true class (adding e^0 = 1 a second time) and drops class
    C-1. Used only to show that the naive reference tells it apart.
    """
    out = []
    for d, y in zip(distances, target, strict=True):
        s = sum(math.exp(d[y] - d[j]) for j in range(len(d) - 1))
        out.append(math.log(1.0 + s))
    return sum(out) / len(out)


def naive_torch_cac(distances, target, lambda_anchor):
    """The same formula with torch ops in Python loops, for autograd."""
    per_sample = []
    for k in range(distances.shape[0]):
        y = int(target[k])
        d = distances[k]
        s = sum(torch.exp(d[y] - d[j]) for j in range(d.shape[0]) if j != y)
        per_sample.append(torch.log(1 + s) + lambda_anchor * d[y])
    return torch.stack(per_sample).mean()


def random_problem(n_classes, n_samples, seed, scale=5.0, dtype=torch.float64):
    """Random logits around the default anchors and random targets."""
    gen = torch.Generator().manual_seed(seed)
    anchors = class_anchors(n_classes, 10.0, dtype=dtype)
    centre = anchors[torch.randint(n_classes, (n_samples,), generator=gen)]
    logits = centre + scale * torch.randn(
        n_samples, n_classes, generator=gen, dtype=dtype
    )
    target = torch.randint(n_classes, (n_samples,), generator=gen)
    return logits, target


# ---------------------------------------------------------------------------
# MLP
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hidden, feature_dim",
    [((256, 128), 128), ((16,), 16), ((), 7), ((8, 8, 4), 4)],
)
def test_mlp_shapes_and_features(hidden, feature_dim):
    torch.manual_seed(0)
    net = MLP(7, 3, hidden_layer_sizes=hidden)
    x = torch.randn(5, 7)
    features = net.forward_features(x)
    assert features.shape == (5, feature_dim)
    assert net.feature_dim == feature_dim
    logits = net(x)
    assert logits.shape == (5, 3)
    torch.testing.assert_close(logits, net.head(features))
    n_linear = sum(isinstance(m, nn.Linear) for m in net.modules())
    assert n_linear == len(hidden) + 1


def test_mlp_without_hidden_layers_is_linear():
    torch.manual_seed(0)
    net = MLP(4, 2, hidden_layer_sizes=())
    x = torch.randn(3, 4)
    torch.testing.assert_close(net.forward_features(x), x)
    torch.testing.assert_close(net(x), x @ net.head.weight.T + net.head.bias)


@pytest.mark.parametrize(
    "activation, expected",
    [("relu", nn.ReLU), ("tanh", nn.Tanh), ("logistic", nn.Sigmoid), ("gelu", nn.GELU)],
)
def test_mlp_activation(activation, expected):
    net = MLP(3, 2, hidden_layer_sizes=(4, 4), activation=activation)
    assert sum(isinstance(m, expected) for m in net.modules()) == 2


def test_mlp_dropout_train_vs_eval():
    torch.manual_seed(0)
    net = MLP(10, 4, hidden_layer_sizes=(64, 64), dropout=0.5)
    x = torch.randn(16, 10)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    out = net(x)
    assert torch.equal(out, net(x))
    # In eval mode a sample's output does not depend on its batch.
    torch.testing.assert_close(net(x[:3]), out[:3])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_features": 0, "n_outputs": 2},
        {"n_features": 3, "n_outputs": 0},
        {"n_features": 3, "n_outputs": 2, "hidden_layer_sizes": (4, 0)},
        {"n_features": 3, "n_outputs": 2, "hidden_layer_sizes": (4.0,)},
        {"n_features": 3, "n_outputs": 2, "dropout": 1.0},
        {"n_features": 3, "n_outputs": 2, "dropout": -0.1},
        {"n_features": 3, "n_outputs": 2, "activation": "swish"},
    ],
)
def test_mlp_invalid_parameters(kwargs):
    with pytest.raises(ValueError):
        MLP(**kwargs)


def test_sizes_accept_numpy_integers():
    net = MLP(np.int64(3), np.int32(2), hidden_layer_sizes=np.array([4, 5]))
    assert net.n_features == 3 and net.hidden_layer_sizes == (4, 5)
    assert type(net.feature_dim) is int
    assert Classifier32(np.int64(4), in_channels=np.int64(1)).head.out_features == 4
    assert AnchorDistance(np.int64(3)).anchors.shape == (3, 3)


def test_mlp_wrong_input_shape():
    net = MLP(5, 2, hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match=r"\(n_samples, 5\)"):
        net(torch.randn(3, 6))
    with pytest.raises(ValueError):
        net(torch.randn(3, 5, 1))


# ---------------------------------------------------------------------------
# Classifier32
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "in_channels, size, n_outputs",
    [(1, 8, 6), (1, 28, 10), (3, 32, 6), (3, 64, 4), (1, 13, 2)],
)
def test_classifier32_shapes(in_channels, size, n_outputs):
    torch.manual_seed(0)
    net = Classifier32(n_outputs, in_channels=in_channels).eval()
    x = torch.randn(2, in_channels, size, size)
    with torch.no_grad():
        features = net.forward_features(x)
        logits = net(x)
    assert features.shape == (2, 128) == (2, net.feature_dim)
    assert logits.shape == (2, n_outputs)
    torch.testing.assert_close(logits, net.head(features))


@pytest.mark.parametrize("size", [8, 28])
def test_classifier32_resizes_to_32_bilinear(size):
    torch.manual_seed(0)
    net = Classifier32(3, in_channels=1).eval()
    x = torch.rand(3, 1, size, size)
    x32 = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x32))
        # The resize really happens: the raw image would give other values.
        assert not torch.allclose(net(x), net(F.pad(x, [0, 32 - size, 0, 32 - size])))


@pytest.mark.parametrize(
    "in_channels, n_outputs, expected",
    [(3, 10, 1_000_394), (1, 6, 998_726), (1, 10, 999_242), (3, 100, 1_012_004)],
)
def test_classifier32_parameter_count(in_channels, n_outputs, expected):
    net = Classifier32(n_outputs, in_channels=in_channels)
    n_params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert n_params == expected == 997_376 + 576 * in_channels + 129 * n_outputs


def test_classifier32_architecture():
    net = Classifier32(5, in_channels=3, dropout=0.3)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128] + [128] * 6
    assert [c.in_channels for c in convs] == [3, 64, 64] + [128] * 6
    assert [c.stride for c in convs] == [(1, 1), (1, 1), (2, 2)] * 3
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 9
    relus = [m for m in net.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(relus) == 9 and all(r.negative_slope == 0.2 for r in relus)
    # One Dropout2d at the end of each group, after its last activation (the
    # CAC reference code's placement).
    for group in (net.group1, net.group2, net.group3):
        assert isinstance(group[0], nn.Conv2d)
        assert isinstance(group[-2], nn.LeakyReLU)
        assert isinstance(group[-1], nn.Dropout2d) and group[-1].p == 0.3
    assert sum(isinstance(m, nn.Dropout2d) for m in net.modules()) == 3
    assert net.head.in_features == 128 and net.head.out_features == 5


@pytest.mark.parametrize("n_outputs", [2, 6])
def test_classifier32_flatten_pooling(n_outputs):
    torch.manual_seed(0)
    net = Classifier32(n_outputs, in_channels=1, pooling="flatten").eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        features = net.forward_features(x)
        maps = net.group3(
            net.group2(
                net.group1(
                    F.interpolate(
                        x, size=(32, 32), mode="bilinear", align_corners=False
                    )
                )
            )
        )
    assert features.shape == (3, 2048) == (3, net.feature_dim)
    torch.testing.assert_close(features, maps.reshape(3, -1))
    assert net.head.in_features == 2048
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 997_376 + 576 + 129 * n_outputs + 1920 * n_outputs
    with pytest.raises(ValueError, match="pooling"):
        Classifier32(3, pooling="max")


def test_classifier32_flatten_head_reaches_cac_anchors_faster():
    # From the small initial head weights, the logits of a head over 2048
    # features grow to the anchors' magnitude in fewer steps than those of a
    # head over 128 channel means: the reason CACClassifier uses "flatten".
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 8, 8, generator=gen)
    y = torch.arange(8) % 2
    x[y == 0, :, :4] += 1.0
    x[y == 1, :, 4:] += 1.0
    anchor_loss = {}
    for pooling in ("avg", "flatten"):
        torch.manual_seed(0)
        net = CACNet(
            Classifier32(2, in_channels=1, dropout=0.0, pooling=pooling), n_classes=2
        )
        criterion = CACLoss()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        for _ in range(5):
            optimizer.zero_grad()
            loss, anchor, _ = criterion(net(x)[1], y, return_terms=True)
            loss.backward()
            optimizer.step()
        anchor_loss[pooling] = anchor.item()
    assert anchor_loss["flatten"] < anchor_loss["avg"] - 0.5


def test_classifier32_train_vs_eval():
    torch.manual_seed(0)
    net = Classifier32(4, in_channels=1, dropout=0.2)
    x = torch.randn(8, 1, 8, 8)
    net.eval()
    with torch.no_grad():
        out = net(x)
        assert torch.equal(out, net(x))
        # BatchNorm uses running statistics: no dependence on the batch.
        torch.testing.assert_close(net(x[:2]), out[:2], rtol=1e-5, atol=1e-6)
    running_mean = net.group1[1].running_mean.clone()
    with torch.no_grad():
        net(x)
    assert torch.equal(net.group1[1].running_mean, running_mean)

    net.train()
    with torch.no_grad():
        first, second = net(x), net(x)
    assert not torch.equal(first, second)  # dropout
    assert not torch.equal(net.group1[1].running_mean, running_mean)


def test_classifier32_dropout_never_touches_the_input():
    # A Dropout2d on a 1-channel input would zero whole images with
    # probability p; the first convolution must see every image intact, while
    # the groups' outputs do lose whole feature maps in train mode.
    torch.manual_seed(0)
    net = Classifier32(3, in_channels=1, dropout=0.5).train()
    x = torch.rand(64, 1, 32, 32) + 0.1
    seen = {}
    net.group1[0].register_forward_pre_hook(
        lambda module, args: seen.__setitem__("conv_input", args[0])
    )
    net.group1.register_forward_hook(
        lambda module, args, out: seen.__setitem__("group_output", out)
    )
    with torch.no_grad():
        net(x)
    torch.testing.assert_close(seen["conv_input"], x, rtol=0, atol=0)
    dropped_maps = seen["group_output"].abs().sum(dim=(2, 3)) == 0
    assert 0.3 < dropped_maps.float().mean() < 0.7


def test_classifier32_wrong_channels():
    net = Classifier32(3, in_channels=3)
    with pytest.raises(ValueError, match="3, height, width"):
        net(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError):
        net(torch.randn(2, 3 * 32 * 32))


def test_classifier32_invalid_parameters():
    with pytest.raises(ValueError):
        Classifier32(0)
    with pytest.raises(ValueError):
        Classifier32(3, in_channels=0)
    with pytest.raises(ValueError):
        Classifier32(3, dropout=1.5)


def test_classifier32_learns_a_tiny_task_with_cac():
    # Two classes of 8x8 images (bright top half vs bright bottom half): a few
    # SGD steps of the CAC loss through the whole CNN must lower it steadily.
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x = 0.3 * torch.rand(8, 1, 8, 8, generator=gen)
    y = torch.arange(8) % 2
    x[y == 0, :, :4] += 1.0
    x[y == 1, :, 4:] += 1.0
    net = CACNet(Classifier32(2, in_channels=1, dropout=0.0), n_classes=2)
    criterion = CACLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = criterion(net(x)[1], y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(b < a for a, b in itertools.pairwise(losses))
    assert losses[-1] < 0.8 * losses[0]


# ---------------------------------------------------------------------------
# Anchors and distances
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_class_anchors(n_classes):
    anchors = class_anchors(n_classes, magnitude=7.5)
    assert anchors.shape == (n_classes, n_classes)
    torch.testing.assert_close(anchors, 7.5 * torch.eye(n_classes))
    assert class_anchors(n_classes, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_class_anchors_invalid(bad):
    with pytest.raises(ValueError):
        class_anchors(bad)


def test_anchor_distance_anchors_are_a_buffer():
    layer = AnchorDistance(4, magnitude=10.0)
    assert list(layer.parameters()) == []
    assert "anchors" in dict(layer.named_buffers())
    assert "anchors" in layer.state_dict()
    torch.testing.assert_close(layer.anchors, 10.0 * torch.eye(4))
    assert not layer.anchors.requires_grad


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_anchor_distance_matches_naive(n_classes, dtype):
    logits, _ = random_problem(n_classes, 20, seed=n_classes)
    layer = AnchorDistance(n_classes)
    got = layer(logits.to(dtype))
    assert got.shape == (20, n_classes) and got.dtype == dtype
    expected = naive_distances(logits.tolist(), layer.anchors.double().tolist())
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {}
    torch.testing.assert_close(got, torch.tensor(expected, dtype=dtype), **tol)


def test_anchor_distance_accurate_near_an_anchor():
    # Offsets of 1e-4 from an anchor of magnitude 10: the expanded form
    # ||z||^2 + ||c||^2 - 2 z.c loses every digit here in float32.
    gen = torch.Generator().manual_seed(0)
    layer = AnchorDistance(5)
    offsets = 1e-4 * torch.randn(5, 5, generator=gen)
    got = layer(layer.anchors + offsets).diagonal()
    torch.testing.assert_close(got, offsets.norm(dim=1), rtol=1e-3, atol=0)


def test_anchor_distance_gradient_at_an_anchor_is_finite():
    layer = AnchorDistance(3)
    logits = layer.anchors.clone().requires_grad_()
    layer(logits).sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_anchor_distance_gradient_matches_autograd_of_norm():
    logits, _ = random_problem(4, 6, seed=1)
    logits.requires_grad_()
    layer = AnchorDistance(4).double()
    weights = torch.randn(6, 4, dtype=torch.float64)
    (layer(logits) * weights).sum().backward()
    got = logits.grad.clone()
    logits.grad = None
    naive = torch.stack(
        [
            torch.stack([(z - c).pow(2).sum().sqrt() for c in layer.anchors])
            for z in logits
        ]
    )
    (naive * weights).sum().backward()
    torch.testing.assert_close(got, logits.grad)


def test_anchor_distance_set_anchors():
    layer = AnchorDistance(3)
    means = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 1.0, 4.0]])
    layer.set_anchors(means)  # numpy input, as the estimators compute it
    assert layer.anchors.dtype == torch.float32
    assert list(layer.parameters()) == []
    torch.testing.assert_close(layer.anchors, torch.tensor(means, dtype=torch.float32))
    d = layer(torch.tensor([[1.0, 1.0, 4.0]]))
    torch.testing.assert_close(d[0, 2], torch.tensor(0.0))

    # The new anchors travel with the state dict.
    fresh = AnchorDistance(3)
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh.anchors, layer.anchors)

    with pytest.raises(ValueError, match="shape"):
        layer.set_anchors(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="finite"):
        layer.set_anchors(torch.full((3, 3), float("nan")))


def test_anchor_distance_wrong_logits_shape():
    with pytest.raises(ValueError, match=r"\(n_samples, 3\)"):
        AnchorDistance(3)(torch.zeros(2, 4))


# ---------------------------------------------------------------------------
# CAC loss
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
@pytest.mark.parametrize("n_samples", BATCH_SIZES)
@pytest.mark.parametrize("lambda_anchor", [0.1, 0.0, 1.0])
def test_cac_loss_matches_naive_formula(n_classes, n_samples, lambda_anchor):
    logits, target = random_problem(
        n_classes, n_samples, seed=n_classes * 100 + n_samples
    )
    distances = AnchorDistance(n_classes).double()(logits)
    loss = CACLoss(lambda_anchor=lambda_anchor)
    total, anchor, tuplet = loss(distances, target, return_terms=True)
    exp_total, exp_anchor, exp_tuplet = naive_cac_loss(
        distances.tolist(), target.tolist(), lambda_anchor
    )
    tol = {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(total.item(), exp_total, **tol)
    torch.testing.assert_close(anchor.item(), exp_anchor, **tol)
    torch.testing.assert_close(tuplet.item(), exp_tuplet, **tol)
    torch.testing.assert_close(loss(distances, target).item(), exp_total, **tol)
    # float32 input gives the same value to float32 precision.
    total32 = loss(distances.float(), target)
    assert total32.dtype == torch.float32
    torch.testing.assert_close(total32.item(), exp_total, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_naive_reference_catches_the_wrong_class_sum(n_classes):
    # The tests above would fail a tuplet sum over classes 0..C-2 (the true
    # class counted, class C-1 missed), as in pytorch-ood's CACLoss.
    logits, target = random_problem(n_classes, 64, seed=n_classes)
    distances = AnchorDistance(n_classes).double()(logits)
    wrong = pytorch_ood_style_tuplet(distances.tolist(), target.tolist())
    _, _, right = naive_cac_loss(distances.tolist(), target.tolist(), 0.1)
    ours = CACLoss()(distances, target, return_terms=True)[2].item()
    assert ours == pytest.approx(right, rel=1e-12)
    assert abs(wrong - right) > 1e-3


def test_cac_loss_terms_and_attributes():
    logits, target = random_problem(6, 32, seed=3)
    distances = AnchorDistance(6)(logits.float())
    loss = CACLoss(lambda_anchor=0.3)
    assert loss.last_anchor_loss is None and loss.last_tuplet_loss is None
    total, anchor, tuplet = loss(distances, target, return_terms=True)
    torch.testing.assert_close(total, tuplet + 0.3 * anchor)
    torch.testing.assert_close(anchor, distances[torch.arange(32), target].mean())
    torch.testing.assert_close(loss.last_anchor_loss, anchor.detach())
    torch.testing.assert_close(loss.last_tuplet_loss, tuplet.detach())
    assert not loss.last_anchor_loss.requires_grad
    # The loss reads only the distances: magnitude does not change it.
    torch.testing.assert_close(
        CACLoss(magnitude=3.0, lambda_anchor=0.3)(distances, target), total
    )


def test_cac_loss_terms_keep_the_graph():
    logits, target = random_problem(3, 5, seed=0)
    logits.requires_grad_()
    distances = AnchorDistance(3).double()(logits)
    _, anchor, tuplet = CACLoss()(distances, target, return_terms=True)
    assert anchor.grad_fn is not None and tuplet.grad_fn is not None


def test_cac_loss_reduction():
    logits, target = random_problem(5, 9, seed=4)
    distances = AnchorDistance(5).double()(logits)
    anchors, tuplets = naive_cac_terms(distances.tolist(), target.tolist())
    per_sample = torch.tensor(
        [t + 0.1 * a for a, t in zip(anchors, tuplets, strict=True)],
        dtype=torch.float64,
    )
    none = CACLoss(reduction="none")
    total, anchor, tuplet = none(distances, target, return_terms=True)
    assert total.shape == anchor.shape == tuplet.shape == (9,)
    torch.testing.assert_close(total, per_sample)
    torch.testing.assert_close(anchor, torch.tensor(anchors, dtype=torch.float64))
    torch.testing.assert_close(tuplet, torch.tensor(tuplets, dtype=torch.float64))
    torch.testing.assert_close(
        CACLoss(reduction="sum")(distances, target), per_sample.sum()
    )
    torch.testing.assert_close(CACLoss()(distances, target), per_sample.mean())
    with pytest.raises(ValueError, match="reduction"):
        CACLoss(reduction="max")


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_cac_loss_stable_for_large_distances(n_classes):
    # Differences d_y - d_j up to ~600: exp overflows float32 (at ~88) but not
    # the float64 naive reference (at ~709).
    gen = torch.Generator().manual_seed(n_classes)
    distances = 300.0 * torch.rand(16, n_classes, generator=gen, dtype=torch.float64)
    target = torch.randint(n_classes, (16,), generator=gen)
    expected, _, _ = naive_cac_loss(distances.tolist(), target.tolist(), 0.1)
    got = CACLoss()(distances.float(), target)
    assert torch.isfinite(got)
    torch.testing.assert_close(got.item(), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cac_loss_finite_beyond_exp_range(dtype):
    # Distances of 1e4: the direct sum of exponentials overflows in any dtype.
    # L_T is bounded by max(0, max_j d_y - d_j) <= L_T <= that + log(C).
    gen = torch.Generator().manual_seed(0)
    distances = (1e4 * torch.rand(32, 10, generator=gen, dtype=torch.float64)).to(dtype)
    distances.requires_grad_()
    target = torch.randint(10, (32,), generator=gen)
    per_sample = CACLoss(lambda_anchor=0.0, reduction="none")(distances, target)
    assert torch.isfinite(per_sample).all()
    d = distances.detach()
    d_true = d[torch.arange(32), target]
    lower = (d_true[:, None] - d).max(dim=1).values.clamp(min=0)
    eps = 1e-2 if dtype == torch.float32 else 1e-9
    assert (per_sample >= lower - eps).all()
    assert (per_sample <= lower + math.log(10) + eps).all()
    per_sample.sum().backward()
    assert torch.isfinite(distances.grad).all()


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_cac_loss_gradient_matches_naive_autograd(n_classes):
    logits, target = random_problem(n_classes, 8, seed=n_classes + 7)
    logits_ours = logits.clone().requires_grad_()
    logits_naive = logits.clone().requires_grad_()
    layer = AnchorDistance(n_classes).double()

    CACLoss(lambda_anchor=0.1)(layer(logits_ours), target).backward()
    naive_torch_cac(layer(logits_naive), target, 0.1).backward()
    torch.testing.assert_close(
        logits_ours.grad, logits_naive.grad, rtol=1e-10, atol=1e-12
    )


def test_cac_loss_gradcheck():
    logits, target = random_problem(4, 5, seed=11)
    distances = AnchorDistance(4).double()(logits).detach().requires_grad_()
    loss = CACLoss(lambda_anchor=0.1, reduction="none")
    assert torch.autograd.gradcheck(lambda d: loss(d, target), (distances,))


def test_cac_loss_single_class_has_no_tuplet_term():
    distances = torch.tensor([[3.0], [0.5]])
    total, anchor, tuplet = CACLoss(lambda_anchor=0.1)(
        distances, torch.tensor([0, 0]), return_terms=True
    )
    assert tuplet.item() == 0.0
    torch.testing.assert_close(total, 0.1 * anchor)


def test_cac_loss_target_handling():
    distances = torch.rand(4, 3)
    loss = CACLoss()
    expected = loss(distances, torch.tensor([0, 1, 2, 1]))
    torch.testing.assert_close(
        loss(distances, torch.tensor([0, 1, 2, 1], dtype=torch.int32)), expected
    )
    torch.testing.assert_close(loss(distances, np.array([0, 1, 2, 1])), expected)
    with pytest.raises(ValueError, match="integer"):
        loss(distances, torch.tensor([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(4,\)"):
        loss(distances, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="n_classes"):
        loss(distances.ravel(), torch.tensor([0, 1, 2, 1]))
    with pytest.raises((RuntimeError, IndexError)):
        loss(distances, torch.tensor([0, 1, 3, 1]))


# ---------------------------------------------------------------------------
# Rejection score
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", CLASS_COUNTS)
def test_cac_rejection_score_matches_naive(n_classes):
    logits, _ = random_problem(n_classes, 12, seed=n_classes)
    distances = AnchorDistance(n_classes).double()(logits)
    got = cac_rejection_score(distances)
    assert got.shape == (12, n_classes)
    expected = []
    for d in distances.tolist():
        denom = sum(math.exp(-dk) for dk in d)
        expected.append([dj * (1.0 - math.exp(-dj) / denom) for dj in d])
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))


def test_cac_rejection_score_stable_and_ordered():
    d = torch.tensor([[1000.0, 1001.0, 5000.0], [2.0, 2.0, 2.0]])
    s = cac_rejection_score(d)
    assert torch.isfinite(s).all()
    # softmin of (1000, 1001, 5000) is (1/(1+e^-1), e^-1/(1+e^-1), 0).
    p = 1.0 / (1.0 + math.exp(-1.0))
    torch.testing.assert_close(
        s[0], torch.tensor([1000.0 * (1 - p), 1001.0 * p, 5000.0])
    )
    torch.testing.assert_close(s[1], torch.full((3,), 2.0 * 2.0 / 3.0))
    with pytest.raises(ValueError):
        cac_rejection_score(torch.zeros(3))


# ---------------------------------------------------------------------------
# CACNet
# ---------------------------------------------------------------------------


def test_cacnet_outputs():
    torch.manual_seed(0)
    backbone = MLP(6, 4, hidden_layer_sizes=(16,))
    net = CACNet(backbone, n_classes=4, magnitude=5.0)
    x = torch.randn(7, 6)
    logits, distances = net(x)
    torch.testing.assert_close(logits, backbone(x))
    torch.testing.assert_close(distances, AnchorDistance(4, 5.0)(logits))
    torch.testing.assert_close(net.anchors, 5.0 * torch.eye(4))
    assert net.forward_features(x).shape == (7, 16)
    # Only the backbone is trainable.
    assert {name for name, _ in net.named_parameters()} == {
        f"backbone.{name}" for name, _ in backbone.named_parameters()
    }


def test_cacnet_set_anchors_survives_copy_and_pickle():
    torch.manual_seed(0)
    net = CACNet(Classifier32(3, in_channels=1), n_classes=3).eval()
    new = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    net.set_anchors(new)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        expected = net(x)[1]
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        torch.testing.assert_close(clone.anchors, new)
        with torch.no_grad():
            torch.testing.assert_close(clone(x)[1], expected)


# ---------------------------------------------------------------------------
# End to end: CAC training on separable data
# ---------------------------------------------------------------------------


def test_cac_training_decreases_loss_and_clusters_at_anchors():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    n_classes, n_per_class, n_features = 6, 40, 8
    centres = 6.0 * torch.randn(n_classes, n_features, generator=gen)
    y = torch.arange(n_classes).repeat_interleave(n_per_class)
    x = centres[y] + torch.randn(len(y), n_features, generator=gen)

    net = CACNet(MLP(n_features, n_classes, hidden_layer_sizes=(32,)), n_classes)
    criterion = CACLoss(magnitude=10.0, lambda_anchor=0.1)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    history = []
    for _ in range(150):
        optimizer.zero_grad()
        loss, anchor, _ = criterion(net(x)[1], y, return_terms=True)
        loss.backward()
        optimizer.step()
        history.append((loss.item(), anchor.item()))

    assert history[-1][0] < 0.2 * history[0][0]
    assert history[-1][1] < 0.5 * history[0][1]
    net.eval()
    with torch.no_grad():
        logits, distances = net(x)
    assert (distances.argmin(dim=1) == y).float().mean() > 0.95
    # Samples sit near their own anchor and far from the others.
    own = distances[torch.arange(len(y)), y]
    others = distances.clone()
    others[torch.arange(len(y)), y] = float("inf")
    assert (own < others.min(dim=1).values).float().mean() > 0.95

    # Re-centring on the mean logits of correct samples, as CAC does after
    # training, brings the anchor term down further.
    correct = distances.argmin(dim=1) == y
    means = torch.stack(
        [logits[correct & (y == c)].mean(dim=0) for c in range(n_classes)]
    )
    net.set_anchors(means)
    with torch.no_grad():
        _, anchor_after, _ = criterion(net(x)[1], y, return_terms=True)
    assert anchor_after < history[-1][1]
    scores = cac_rejection_score(net(x)[1].detach()).min(dim=1).values
    far = cac_rejection_score(net(x + 100.0)[1].detach()).min(dim=1).values
    assert scores.mean() < far.mean()
