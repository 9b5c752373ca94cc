"""Tests of ANSOneVsRestClassifier and its torch parts (sklearn_openset.nn._ovr)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn
from torch.nn import functional as F

from sklearn_openset import ANSOneVsRestClassifier
from sklearn_openset.datasets import make_open_set_blobs
from sklearn_openset.evaluation import DATASETS, ESTIMATORS
from sklearn_openset.metrics import unknown_roc_auc_score
from sklearn_openset.nn import (
    MLP,
    OneVsRestHeads,
    OneVsRestNet,
    project_to_shell,
    synthesize_negatives,
)

FAST = {"max_epochs": 15, "batch_size": 16, "random_state": 0}


BLOBS = dict(
    n_samples=500, n_features=8, n_known_classes=3, n_unknown_classes=2, random_state=0
)


@pytest.fixture(scope="module")
def fitted(blobs):
    X_train, _, y_train, _ = blobs
    return ANSOneVsRestClassifier(**FAST).fit(X_train, y_train)


# -- the batched heads ------------------------------------------------------------
@pytest.mark.parametrize("hidden", [(256, 64), (7,), ()])
def test_batched_heads_equal_per_head_computation(hidden):
    torch.manual_seed(0)
    heads = OneVsRestHeads(5, 4, hidden_layer_sizes=hidden, dropout=0.3).eval()
    x = torch.randn(11, 5, dtype=torch.float64)
    heads = heads.double()
    together = heads(x)
    assert together.shape == (11, 4)
    per_head = torch.cat([heads.head(c).double()(x) for c in range(4)], dim=1)
    torch.testing.assert_close(together, per_head, rtol=0, atol=1e-12)
    # A 3-d input gives each head its own rows.
    own = torch.randn(4, 3, 5, dtype=torch.float64)
    logits = heads(own)
    assert logits.shape == (4, 3)
    for c in range(4):
        torch.testing.assert_close(
            logits[c], heads.head(c).double()(own[c])[:, 0], rtol=0, atol=1e-12
        )


def test_heads_are_initialised_like_linear_layers():
    heads = OneVsRestHeads(100, 50, hidden_layer_sizes=(20,))
    bound = 1 / np.sqrt(100)
    w = heads.weights[0].detach()
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    # Heads differ from each other.
    assert not torch.equal(w[0], w[1])


def test_heads_train_independently():
    # The gradient of head c's loss reaches head c's weights only.
    heads = OneVsRestHeads(3, 4, hidden_layer_sizes=(5,))
    heads(torch.randn(4, 2, 3))[2].sum().backward()
    for weight in heads.weights:
        touched = weight.grad.flatten(1).abs().sum(dim=1) > 0
        assert touched.tolist() == [False, False, True, False]


def test_heads_reject_bad_shapes():
    heads = OneVsRestHeads(3, 2)
    with pytest.raises(ValueError, match="3 features"):
        heads(torch.randn(4, 5))
    with pytest.raises(ValueError, match="3-d input of shape"):
        heads(torch.randn(3, 4, 3))
    with pytest.raises(ValueError, match="2-d or 3-d"):
        heads(torch.randn(3))
    with pytest.raises(ValueError, match="dropout"):
        OneVsRestHeads(3, 2, dropout=1.0)


# -- projection and synthesis ---------------------------------------------------------
def test_projection_keeps_every_point_in_the_shell():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(6, 50, 10, generator=gen, dtype=torch.float64)
    # Distances from 0 (a point on its anchor) to far outside.
    scale = torch.logspace(-3, 2, 50, dtype=torch.float64)[None, :, None]
    z_tilde = z + scale * torch.randn(6, 50, 10, generator=gen, dtype=torch.float64)
    z_tilde[0, 0] = z[0, 0]
    inner = torch.rand(6, 1, generator=gen, dtype=torch.float64).expand(6, 50) + 0.5
    outer = 1.7 * inner
    projected = project_to_shell(z_tilde, z, inner, outer)
    distance = (projected - z).norm(dim=-1)
    assert torch.all(distance >= inner * (1 - 1e-12))
    assert torch.all(distance <= outer * (1 + 1e-12))
    # Points already in the shell do not move; the others keep their direction.
    before = (z_tilde - z).norm(dim=-1)
    inside = (before >= inner) & (before <= outer)
    assert inside.any()
    torch.testing.assert_close(projected[inside], z_tilde[inside])
    moved = ~inside
    moved[0, 0] = False
    cosine = F.cosine_similarity(projected - z, z_tilde - z, dim=-1)
    assert torch.all(cosine[moved] > 1 - 1e-9)


@pytest.mark.parametrize("mode", ["adaptive", "projection"])
def test_synthesized_negatives_lie_in_the_shell(mode):
    torch.manual_seed(0)
    heads = OneVsRestHeads(16, 3)
    z = torch.randn(3, 40, 16)
    radius = torch.tensor([0.3, 1.0, 4.0])
    z_tilde = synthesize_negatives(
        heads,
        z,
        radius=radius,
        gamma=2.0,
        noise_std=torch.full((3, 16), 0.05),
        n_steps=5,
        mode=mode,
    )
    distance = (z_tilde - z).norm(dim=-1)
    assert torch.all(distance >= radius[:, None] * (1 - 1e-5))
    assert torch.all(distance <= 2.0 * radius[:, None] * (1 + 1e-5))
    assert not z_tilde.requires_grad


@pytest.mark.parametrize("mode", ["adaptive", "projection", "noise"])
def test_several_negatives_per_positive(mode):
    torch.manual_seed(0)
    heads = OneVsRestHeads(16, 3)
    z = torch.randn(3, 40, 16)
    radius = torch.tensor([0.3, 1.0, 4.0])
    kwargs = {
        "radius": radius,
        "gamma": 2.0,
        "noise_std": torch.full((3, 16), 0.5),
        "mode": mode,
    }
    z_tilde = synthesize_negatives(heads, z, n_per_positive=3, **kwargs)
    assert z_tilde.shape == (3, 120, 16)
    # Row j * m + i belongs to positive i, each from its own noise draw.
    anchors = z.repeat(1, 3, 1)
    distance = (z_tilde - anchors).norm(dim=-1)
    if mode != "noise":
        assert torch.all(distance >= radius[:, None] * (1 - 1e-5))
        assert torch.all(distance <= 2.0 * radius[:, None] * (1 + 1e-5))
    delta = (z_tilde - anchors).view(3, 3, 40, 16)
    assert not torch.allclose(delta[:, 0], delta[:, 1])
    # One per positive is the default and draws the same noise as before.
    torch.manual_seed(1)
    one = synthesize_negatives(heads, z, **kwargs)
    torch.manual_seed(1)
    torch.testing.assert_close(
        synthesize_negatives(heads, z, n_per_positive=1, **kwargs), one
    )
    with pytest.raises(ValueError, match="n_per_positive"):
        synthesize_negatives(heads, z, n_per_positive=0, **kwargs)


def test_n_synthetic(blobs):
    X_train, X_test, y_train, y_test = blobs
    assert ANSOneVsRestClassifier().n_synthetic == 4
    scores = {}
    for n in (1, 3):
        clf = ANSOneVsRestClassifier(**{**FAST, "n_synthetic": n})
        scores[n] = clf.fit(X_train, y_train).score_samples(X_test)
        assert unknown_roc_auc_score(y_test, scores[n]) > 0.95
    assert not np.allclose(scores[1], scores[3])
    with pytest.raises(ValueError, match="n_synthetic"):
        ANSOneVsRestClassifier(n_synthetic=0).fit(X_train, y_train)


def test_noise_and_none_modes():
    torch.manual_seed(0)
    heads = OneVsRestHeads(4, 2)
    z = torch.zeros(2, 20000, 4)
    std = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5]])
    noisy = synthesize_negatives(
        heads, z, radius=torch.ones(2), gamma=2.0, noise_std=std, mode="noise"
    )
    torch.testing.assert_close(noisy.std(dim=1), std, rtol=0.03, atol=0)
    assert (
        synthesize_negatives(
            heads, z, radius=torch.ones(2), gamma=2.0, noise_std=std, mode="none"
        )
        is None
    )
    with pytest.raises(ValueError, match="mode"):
        synthesize_negatives(
            heads, z, radius=torch.ones(2), gamma=2.0, noise_std=std, mode="x"
        )


def test_gradient_ascent_increases_the_head_loss():
    torch.manual_seed(0)
    heads = OneVsRestHeads(16, 3)
    z = torch.randn(3, 200, 16)
    kwargs = {
        "radius": torch.ones(3),
        "gamma": 2.0,
        "noise_std": torch.full((3, 16), 0.3),
    }

    def loss(points):
        with torch.no_grad():
            return F.softplus(heads.eval()(points))

    torch.manual_seed(1)
    start = synthesize_negatives(heads, z, mode="projection", **kwargs)
    losses = [loss(start)]
    for steps in (1, 3, 10):
        torch.manual_seed(1)  # the same start
        points = synthesize_negatives(heads, z, n_steps=steps, step_size=0.1, **kwargs)
        losses.append(loss(points))
    means = [value.mean().item() for value in losses]
    assert means == sorted(means) and means[-1] > means[0] + 0.05
    assert (losses[-1] > losses[0]).float().mean() > 0.95


def test_ascent_is_projected_once_after_the_steps():
    # Algorithm 1: noise, k normalized ascent steps, then one projection onto
    # the shell. With linear heads the gradient of head c is along its weight
    # w_c, so the result has a closed form; projecting after every step (what
    # the library did before) gives other points when the noise starts inside
    # the inner radius.
    torch.manual_seed(0)
    heads = OneVsRestHeads(6, 2, hidden_layer_sizes=()).eval()
    z = torch.randn(2, 30, 6, dtype=torch.float64)
    heads = heads.double()
    radius = torch.tensor([1.0, 2.0], dtype=torch.float64)
    noise_std = torch.full((2, 6), 0.05, dtype=torch.float64)
    kwargs = {"radius": radius, "gamma": 1.5, "noise_std": noise_std}
    torch.manual_seed(3)
    z_tilde = synthesize_negatives(heads, z, n_steps=3, step_size=0.2, **kwargs)
    torch.manual_seed(3)
    eps = torch.randn(z.shape, dtype=z.dtype) * noise_std[:, None, :]
    w = heads.weights[0].detach()[:, :, 0]  # (2, 6)
    direction = (w / w.norm(dim=1, keepdim=True))[:, None, :]
    inner = radius[:, None].expand(2, 30)
    moved = z + eps + 3 * 0.2 * radius[:, None, None] * direction
    expected = project_to_shell(moved, z, inner, 1.5 * inner)
    torch.testing.assert_close(z_tilde, expected)
    stepwise = project_to_shell(z + eps, z, inner, 1.5 * inner)
    for _ in range(3):
        stepwise = project_to_shell(
            stepwise + 0.2 * radius[:, None, None] * direction, z, inner, 1.5 * inner
        )
    assert not torch.allclose(z_tilde, stepwise)


def test_ascent_on_trained_heads(blobs):
    # On trained heads, the default step raises the heads' logits of the
    # synthesized negatives (from the same noise, in the shell) without
    # pushing most of them into the positive region; half the radius per step,
    # the former default, pushes nearly all of them there.
    X_train, _, y_train, _ = blobs
    clf = ANSOneVsRestClassifier(**FAST).fit(X_train, y_train)
    module = clf.net_.module_.eval()
    encoded = np.searchsorted(clf.classes_, y_train)
    m = np.bincount(encoded).min()
    rows = np.stack([np.flatnonzero(encoded == c)[:m] for c in range(3)])
    z = module.standardize(torch.as_tensor(X_train[rows], dtype=torch.float32))
    kwargs = {
        "radius": module.radius,
        "gamma": clf.gamma,
        "noise_std": module.noise_std,
        "n_per_positive": 4,
    }
    step = ANSOneVsRestClassifier().ascent_step_size

    def synthesize(**params):
        torch.manual_seed(0)
        return synthesize_negatives(module.heads, z, **kwargs, **params)

    start = synthesize(mode="projection")
    found = synthesize(n_steps=3, step_size=step)
    pushed = synthesize(n_steps=3, step_size=0.5)
    anchors = z.repeat(1, 4, 1)
    distance = (found - anchors).norm(dim=-1)
    assert torch.all(distance >= module.radius[:, None] * (1 - 1e-5))
    assert torch.all(distance <= clf.gamma * module.radius[:, None] * (1 + 1e-5))
    with torch.no_grad():
        logits = [module.heads(points) for points in (start, found, pushed)]
    assert (logits[1] > logits[0]).float().mean() > 0.95
    share = [(value > 0).float().mean().item() for value in logits]
    assert share[0] < share[1] < 0.5
    assert share[2] > 0.9


def test_rest_reduction(blobs):
    # The paper's sum weighs the real negatives C - 1 times the positives.
    # The first step starts from the same weights and draws the same samples
    # whatever the reduction: L_rest grows by the negatives' mean term.
    X_train, _, y_train, _ = blobs
    assert ANSOneVsRestClassifier().rest_reduction == "mean"
    first, last = {}, {}
    for reduction in ("mean", "sum"):
        clf = ANSOneVsRestClassifier(
            **{**FAST, "rest_reduction": reduction, "negative_synthesis": "none"}
        ).fit(X_train, y_train)
        first[reduction] = clf.net_.history[0, "batches", 0, "train_open_loss"]
        # Heavier negatives: the heads' logits on the training samples fall.
        last[reduction] = clf.ovr_decision_function(X_train).mean()
    assert first["sum"] > first["mean"] + 0.1
    assert last["sum"] < last["mean"]
    with pytest.raises(ValueError, match="rest_reduction"):
        ANSOneVsRestClassifier(rest_reduction="max").fit(X_train, y_train)


def test_synthesis_leaves_parameters_alone():
    heads = OneVsRestHeads(4, 2).train()
    before = [p.detach().clone() for p in heads.parameters()]
    synthesize_negatives(
        heads,
        torch.randn(2, 5, 4),
        radius=torch.ones(2),
        gamma=2.0,
        noise_std=torch.ones(2, 4),
        n_steps=3,
    )
    assert heads.training
    for p, b in zip(heads.parameters(), before):
        assert p.grad is None
        assert torch.equal(p, b)


def test_one_vs_rest_net_outputs():
    net = OneVsRestNet(
        nn.Linear(4, 3), OneVsRestHeads(4, 3), torch.ones(3), torch.ones(3, 4)
    )
    class_logits, head_logits = net(torch.randn(5, 4))
    assert class_logits.shape == head_logits.shape == (5, 3)
    assert net.radius.dtype == torch.float32


# -- the estimator --------------------------------------------------------------------
def _class_spread(X, y, classes):
    return [np.sqrt(2 * np.trace(np.cov(X[y == c].T, bias=True))) for c in classes]


def test_radius_auto_is_the_class_spread(blobs):
    X_train, _, y_train, _ = blobs
    X64 = X_train.astype(np.float64)
    raw = ANSOneVsRestClassifier(
        max_epochs=1, standardize=False, radius_factor=1.0, random_state=0
    )
    raw.fit(X_train, y_train)
    expected = _class_spread(X64, y_train, raw.classes_)
    np.testing.assert_allclose(raw.radius_, expected, rtol=1e-6)
    np.testing.assert_allclose(raw.net_.module_.radius.numpy(), expected, rtol=1e-6)
    # The paper's noise: eps ~ N(0, 4 diag Sigma_c).
    sigma = np.stack([X64[y_train == c].std(axis=0) for c in raw.classes_])
    np.testing.assert_allclose(raw.net_.module_.noise_std.numpy(), 2 * sigma, rtol=1e-5)
    # radius_factor scales the radius and the noise together (default 1).
    wider = clone(raw).set_params(radius_factor=1.5).fit(X_train, y_train)
    np.testing.assert_allclose(wider.radius_, 1.5 * np.asarray(expected), rtol=1e-6)
    np.testing.assert_allclose(
        wider.net_.module_.noise_std.numpy(), 3 * sigma, rtol=1e-5
    )
    assert ANSOneVsRestClassifier().radius_factor == 1.0
    # It scales with the features: normalised embeddings get small radii.
    small = clone(raw).fit(X_train / 100, y_train)
    np.testing.assert_allclose(small.radius_, np.asarray(expected) / 100, rtol=1e-5)
    fixed = clone(raw).set_params(radius=8.0, radius_factor=3.0).fit(X_train, y_train)
    np.testing.assert_array_equal(fixed.radius_, 8.0)
    # By default the statistic is taken on the standardized features, the space
    # of the heads, so it does not depend on the scale of X at all.
    Z = (X64 - X64.mean(axis=0)) / X64.std(axis=0)
    standardized = ANSOneVsRestClassifier(
        max_epochs=1, radius_factor=1.0, random_state=0
    )
    np.testing.assert_allclose(
        standardized.fit(X_train, y_train).radius_,
        _class_spread(Z, y_train, raw.classes_),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        clone(standardized).fit(X_train / 100, y_train).radius_,
        standardized.radius_,
        rtol=1e-5,
    )


def test_radius_of_a_single_sample_class_is_pooled():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 14.0], [-5, 5]])
    y = np.array([0, 0, 1, 1, 2])
    clf = ANSOneVsRestClassifier(
        max_epochs=1, standardize=False, radius_factor=1.0, random_state=0
    )
    clf.fit(X, y)
    # Within-class variances: class 0 (1, 0), class 1 (0, 4); pooled over the 5
    # samples: (2 / 5, 8 / 5).
    np.testing.assert_allclose(clf.radius_, np.sqrt(2 * np.array([1.0, 4.0, 2.0])))


def test_standardization_is_inside_the_module(blobs):
    X_train, X_test, y_train, _ = blobs
    clf = ANSOneVsRestClassifier(max_epochs=2, random_state=0).fit(X_train, y_train)
    module = clf.net_.module_
    np.testing.assert_allclose(module.shift.numpy(), X_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(module.scale.numpy(), X_train.std(axis=0), rtol=1e-5)
    # Shifting and scaling X changes nothing but the stored standardization.
    moved = clone(clf).fit(3 * X_train + 7, y_train)
    np.testing.assert_allclose(
        moved.ovr_decision_function(3 * X_test + 7),
        clf.ovr_decision_function(X_test),
        atol=1e-4,
    )


def test_rejection_rule(fitted, blobs):
    _, X_test, _, _ = blobs
    heads = fitted.ovr_decision_function(X_test)
    proba = fitted.predict_proba(X_test)
    y_pred = fitted.predict(X_test)
    rejected = heads.max(axis=1) < 0
    assert 0 < rejected.sum() < len(X_test)
    np.testing.assert_array_equal(y_pred == -1, rejected)
    np.testing.assert_array_equal(
        y_pred[~rejected], fitted.classes_[proba[~rejected].argmax(axis=1)]
    )
    np.testing.assert_allclose(fitted.score_samples(X_test), heads.max(axis=1))
    # The threshold shifts the rule.
    strict = clone(fitted).set_params(threshold=2.0).fit(*blobs[::2])
    assert strict.threshold_ == 2.0
    np.testing.assert_array_equal(
        strict.predict(X_test) == -1, strict.score_samples(X_test) < 2.0
    )


def test_detects_unknowns_and_accepts_knowns(fitted, blobs):
    _, X_test, _, y_test = blobs
    assert unknown_roc_auc_score(y_test, fitted.score_samples(X_test)) > 0.95
    known = y_test != -1
    y_pred = fitted.predict(X_test)
    assert np.mean(y_pred[~known] == -1) > 0.9
    assert np.mean(y_pred[known] != -1) > 0.8


def test_outputs(fitted, blobs):
    _, X_test, _, _ = blobs
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    decision = fitted.decision_function(X_test)
    np.testing.assert_array_equal(decision.argmax(axis=1), proba.argmax(axis=1))
    assert fitted.ovr_decision_function(X_test).shape == (len(X_test), 3)
    history = fitted.net_.history
    assert history[-1, "train_ce_loss"] > 0 and history[-1, "train_open_loss"] > 0
    assert isinstance(fitted.net_.module_, OneVsRestNet)


def test_binary_decision_function():
    X, _, y, _ = make_open_set_blobs(n_features=4, n_known_classes=2, random_state=1)
    clf = ANSOneVsRestClassifier(max_epochs=2, random_state=0).fit(X, y)
    d = clf.decision_function(X)
    assert d.shape == (len(X),)
    np.testing.assert_array_equal(d > 0, clf.predict_proba(X)[:, 1] > 0.5)


def test_same_random_state_same_predictions(blobs, fitted):
    X_train, X_test, y_train, _ = blobs
    again = ANSOneVsRestClassifier(**FAST).fit(X_train, y_train)
    np.testing.assert_array_equal(again.predict(X_test), fitted.predict(X_test))
    np.testing.assert_array_equal(
        again.score_samples(X_test), fitted.score_samples(X_test)
    )
    other = ANSOneVsRestClassifier(**{**FAST, "random_state": 1}).fit(X_train, y_train)
    assert not np.array_equal(other.score_samples(X_test), fitted.score_samples(X_test))


def test_synthesized_negatives_make_the_detector(blobs):
    # The paper's ablation in small: without synthesized negatives the heads'
    # logits grow away from the data and unknowns get the highest scores.
    X_train, X_test, y_train, y_test = blobs
    auroc = {}
    for mode in ("none", "noise", "projection", "adaptive"):
        clf = ANSOneVsRestClassifier(**{**FAST, "negative_synthesis": mode})
        clf.fit(X_train, y_train)
        auroc[mode] = unknown_roc_auc_score(y_test, clf.score_samples(X_test))
    assert auroc["none"] < 0.5
    for mode in ("noise", "projection", "adaptive"):
        assert auroc[mode] > 0.95


def test_paper_defaults(fitted):
    # The paper's lambda and known-class classifier (one hidden layer of 768
    # with ReLU, appendix); the heads' sizes are the paper's too.
    clf = ANSOneVsRestClassifier()
    assert clf.synthetic_weight == 0.5
    assert clf.head_hidden_layer_sizes == (256, 64)
    classifier = fitted.net_.module_.classifier
    assert isinstance(classifier, MLP)
    linear = [layer for layer in classifier.modules() if isinstance(layer, nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linear] == [
        (8, 768),
        (768, 3),
    ]
    assert any(isinstance(layer, nn.ReLU) for layer in classifier.modules())


def test_string_labels_and_custom_module(blobs):
    X_train, X_test, y_train, _ = blobs
    names = np.array(["cat", "dog", "fox"])[y_train]
    clf = ANSOneVsRestClassifier(
        module=MLP(8, 3, hidden_layer_sizes=(16,)), max_epochs=3, random_state=0
    ).fit(X_train, names)
    y_pred = clf.predict(X_test)
    assert y_pred.dtype == object
    assert set(y_pred.tolist()) <= {"cat", "dog", "fox", -1}
    assert isinstance(clf.net_.module_.classifier, MLP)


def test_bad_inputs(blobs, fitted):
    X_train, X_test, y_train, _ = blobs
    clf = ANSOneVsRestClassifier(max_epochs=1)
    X_nan = X_train.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_nan, y_train)
    with pytest.raises(ValueError, match="2"):
        clf.fit(X_train.reshape(len(X_train), 2, 4), y_train)
    with pytest.raises(ValueError, match="at least 2 known classes"):
        clf.fit(X_train, np.zeros(len(X_train), dtype=int))
    with pytest.raises(ValueError, match="open_label"):
        clf.fit(X_train, np.where(y_train == 0, -1, y_train))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X_test[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        fitted.score_samples(np.full((2, 8), np.nan))
    with pytest.raises(ValueError, match="radius"):
        ANSOneVsRestClassifier(radius=-1.0).fit(X_train, y_train)
    # Regression: a NaN threshold was accepted, and then nothing was rejected.
    with pytest.raises(ValueError, match="threshold"):
        ANSOneVsRestClassifier(threshold=np.nan).fit(X_train, y_train)
    with pytest.raises(ValueError, match="one logit per class"):
        ANSOneVsRestClassifier(module=nn.Linear(8, 5), max_epochs=1).fit(
            X_train, y_train
        )
    with pytest.raises(ValueError, match="negative_synthesis"):
        ANSOneVsRestClassifier(negative_synthesis="gan").fit(X_train, y_train)
    with pytest.raises(ValueError, match="CUDA"):
        if torch.cuda.is_available():
            raise ValueError("CUDA is there; nothing to test")
        ANSOneVsRestClassifier(device="cuda").fit(X_train, y_train)


def test_pickle_and_clone(fitted, blobs):
    _, X_test, _, _ = blobs
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        restored.score_samples(X_test), fitted.score_samples(X_test)
    )
    assert clone(fitted).get_params() == fitted.get_params()


def test_verbose_shows_progress(blobs, capsys):
    X_train, _, y_train, _ = blobs
    ANSOneVsRestClassifier(max_epochs=2, verbose=1, random_state=0).fit(
        X_train, y_train
    )
    out = capsys.readouterr()
    assert "train_loss" in out.out


def test_registered_for_the_evaluate_command():
    assert "ans" in ESTIMATORS
    assert "clinc150" in DATASETS
    est = ESTIMATORS["ans"].factory(3)
    assert isinstance(est, ANSOneVsRestClassifier) and est.random_state == 3
