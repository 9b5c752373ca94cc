"""
=====================================================================
Class Anchor Clustering: open-set decision regions on 2-D data
=====================================================================

The idea of Figure 1 of the CAC paper (Miller et al., WACV 2021), on data that
can be drawn. A network trained with cross-entropy separates the known
classes with regions that run off to infinity, and it is most confident far
from the training data, where the maximum softmax probability cannot reject.
:class:`~sklearn_openset.CACClassifier` trains the logits to cluster around
one fixed anchor per class and rejects an input whose logits are far from
every anchor.

We fit both on three known Gaussian blobs, with two more blobs unknown, and
shade the region that each one rejects.
"""

# %%
# Data: three known classes, two unknown ones
# -------------------------------------------
#
# :func:`~sklearn_openset.datasets.make_open_set_blobs` draws five blobs; the
# first three are the known classes, the other two appear only in the test
# set, labelled ``-1``. The features are standardized on the training data.
import numpy as np
from sklearn.preprocessing import StandardScaler

from sklearn_openset.datasets import make_open_set_blobs

X_train, X_test, y_train, y_test = make_open_set_blobs(
    n_samples=1000, n_features=2, cluster_std=1.2, random_state=1
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
print(f"{len(X_train)} training samples of classes {np.unique(y_train)}")
print(f"{len(X_test)} test samples, {np.sum(y_test == -1)} of them unknown")

# %%
# A cross-entropy network and CAC
# -------------------------------
#
# The baseline is a scikit-learn :class:`~sklearn.neural_network.MLPClassifier`
# (cross-entropy) wrapped in :class:`~sklearn_openset.MSPClassifier`, which
# rejects inputs whose top softmax probability is low. CAC trains a torch
# :class:`~sklearn_openset.nn.MLP` of the same hidden sizes with the paper's
# settings (anchor magnitude 10, anchor weight 0.1, SGD with momentum, 35 + 35
# epochs), in batches of 32 rather than 128: with 420 samples, that gives the
# network more steps. Both thresholds are set the same way,
# ``threshold="auto"``: 95% of the correctly classified training samples are
# accepted.
from sklearn.neural_network import MLPClassifier

from sklearn_openset import CACClassifier, MSPClassifier
from sklearn_openset.metrics import open_set_f1_score, unknown_roc_auc_score
from sklearn_openset.nn import MLP

cross_entropy = MSPClassifier(
    MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=300, random_state=0),
    threshold="auto",
).fit(X_train, y_train)
cac = CACClassifier(
    lambda: MLP(2, 3, hidden_layer_sizes=(64, 64)), batch_size=32, random_state=0
).fit(X_train, y_train)

models = [("cross-entropy + MSP", cross_entropy), ("CAC", cac)]
for name, clf in models:
    auroc = unknown_roc_auc_score(y_test, clf.score_samples(X_test))
    f1 = open_set_f1_score(y_test, clf.predict(X_test), labels=clf.classes_)
    print(f"{name:>20}: AUROC {auroc:.3f}, open-set macro-F1 {f1:.3f}")

# %%
# Decision regions near the data
# ------------------------------
#
# Each point of the plane is coloured by the class it is given; the grey
# region is rejected as unknown. Both classifiers reject a band between the
# classes; CAC's band is wider where the unknown blobs (black crosses) lie.
import matplotlib.pyplot as plt

colors = ["tab:blue", "tab:orange", "tab:green"]


def plot_regions(ax, clf, half_width, n_points=250):
    ticks = np.linspace(-half_width, half_width, n_points)
    xx, yy = np.meshgrid(ticks, ticks)
    y_grid = clf.predict(np.column_stack([xx.ravel(), yy.ravel()]))
    y_grid = y_grid.astype(int).reshape(xx.shape)
    ax.contourf(
        xx,
        yy,
        y_grid,
        levels=[-1.5, -0.5, 0.5, 1.5, 2.5],
        colors=["0.55", *colors],
        alpha=0.35,
    )


fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
for ax, (name, clf) in zip(axes, models):
    plot_regions(ax, clf, half_width=4)
    for k, color in enumerate(colors):
        ax.scatter(*X_train[y_train == k].T, s=8, color=color, label=f"class {k}")
    ax.scatter(
        *X_test[y_test == -1].T, s=14, marker="x", color="k", label="unknown (test)"
    )
    ax.set_title(f"{name}: grey = rejected")
axes[0].legend(loc="lower left", fontsize=8)
fig.tight_layout()

# %%
# Far from the data
# -----------------
#
# Zooming out by a factor of 7 shows the difference the paper is about. The
# cross-entropy network gives every far point a class, with a softmax
# probability close to 1: nothing is rejected. CAC's logits move away from
# the anchors as the input moves away from the data, and a large part of the
# plane is rejected: the orange region closes, the green one narrows. Not
# everywhere: along some directions the network keeps the logits near an
# anchor over this whole range (here the blue class keeps a wide region): far
# from the training data, a ReLU network's outputs follow linear pieces that
# no loss on the training data controls.
fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
for ax, (name, clf) in zip(axes, models):
    plot_regions(ax, clf, half_width=28)
    ax.scatter(*X_train.T, s=2, color="k")
    ax.set_title(f"{name}, zoomed out: grey = rejected")
fig.tight_layout()

# %%
# CAC's logit space
# -----------------
#
# CAC's network maps each input to three logits. Training pulls them onto the
# class anchors :math:`10 e_j`; after training the anchors are moved to the
# mean logit of the correctly classified training samples (stars). The plot
# shows the logits projected on the plane through the three final anchors:
# the known classes cluster at their anchors, and most unknown test samples
# lie between them. The rejection score is the distance to the nearest
# anchor, scaled by how ambiguous the nearest anchor is,
# ``d * (1 - softmin(d))``.
import copy

import torch

backbone = copy.deepcopy(cac.net_.module_.backbone).double().eval()
with torch.no_grad():
    logits_train = backbone(torch.as_tensor(X_train, dtype=torch.float64)).numpy()
    logits_test = backbone(torch.as_tensor(X_test, dtype=torch.float64)).numpy()

anchors = cac.anchors_
origin = anchors.mean(axis=0)
basis, _ = np.linalg.qr((anchors[1:] - anchors[0]).T)  # orthonormal, in the plane


def project(logits):
    return (logits - origin) @ basis


fig, ax = plt.subplots(figsize=(5.5, 5))
for k, color in enumerate(colors):
    ax.scatter(
        *project(logits_train[y_train == k]).T, s=8, color=color, label=f"class {k}"
    )
ax.scatter(
    *project(logits_test[y_test == -1]).T,
    s=14,
    marker="x",
    color="k",
    label="unknown (test)",
)
ax.scatter(
    *project(anchors).T, s=250, marker="*", color=colors, edgecolor="k", zorder=3
)
ax.set_title("CAC logits, projected on the anchors' plane")
ax.set_aspect("equal")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
