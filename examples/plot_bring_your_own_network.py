"""
==============================
Bring your own trained network
==============================

Networks are often trained elsewhere: in a training script of your own, on a
GPU cluster, or by the authors of a paper. The deep estimators take such a
network as it is: with ``module=network`` and ``max_epochs=0``, ``fit``
trains nothing and does only what the method does after training, on the
training samples you give it:

- :class:`~sklearn_openset.OpenMaxClassifier`: the mean activation vectors and
  the Weibull tails of the known classes;
- :class:`~sklearn_openset.CACClassifier`: the anchors, moved to the mean
  logits of the correctly classified training samples, and the threshold;
- :class:`~sklearn_openset.CROSRClassifier`: OpenMax on the logits and latent
  codes of a reconstruction network.

A scikit-learn model that is already fitted goes through
:class:`sklearn.frozen.FrozenEstimator`, whose ``fit`` does nothing: OpenMax
and MSP over it fit only their own part.

This example trains small networks in a plain torch loop on scikit-learn's
digits (6 known, 4 unknown digits), saves a ``state_dict``, loads it into a
fresh module and hands it to the estimators.
"""

# %%
# The data and a plain torch training loop
# ----------------------------------------
# :func:`~sklearn_openset.datasets.load_digits_open_set` keeps 6 digits for
# training; the test images of the 4 others are labelled ``-1``. A network
# gives one output per known class, in the order of ``np.unique(y_train)``,
# which is the order of the estimators' ``classes_``.
import numpy as np
import torch
from torch import nn

from sklearn_openset.datasets import load_digits_open_set

X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
classes = np.unique(y_train)
n_features, n_classes = X_train.shape[1], len(classes)
print(f"{len(X_train)} training images of the digits {classes}")
print(f"{len(X_test)} test images, {np.sum(y_test == -1)} of unknown digits")

inputs = torch.as_tensor(X_train)
targets = torch.as_tensor(np.searchsorted(classes, y_train))


def train(network, loss, epochs=40, batch_size=64):
    """Adam on mini-batches; ``loss(outputs, target, inputs)`` gives the loss."""
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    network.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs)).split(batch_size):
            optimizer.zero_grad()
            loss(network(inputs[batch]), targets[batch], inputs[batch]).backward()
            optimizer.step()
    return network.eval()


def make_network():
    return nn.Sequential(
        nn.Linear(n_features, 128), nn.ReLU(), nn.Linear(128, n_classes)
    )


torch.manual_seed(0)
cross_entropy = nn.CrossEntropyLoss()
network = train(make_network(), lambda logits, t, x: cross_entropy(logits, t))

# %%
# Save the weights, load them into a fresh module
# -----------------------------------------------
# What a training script leaves behind is usually a ``state_dict`` on disk.
import tempfile
from pathlib import Path

folder = tempfile.TemporaryDirectory()
path = Path(folder.name) / "digits_network.pt"
torch.save(network.state_dict(), path)

loaded = make_network()
loaded.load_state_dict(torch.load(path, weights_only=True))
loaded.eval()

# %%
# OpenMax on the loaded network
# -----------------------------
# A network trained with cross-entropy is what OpenMax was made for: its
# logits are the activation vectors. ``max_epochs=0`` keeps the weights as
# they are (the module is deep-copied, never trained in place). The metrics
# take the known classes as ``labels``; every other label counts as unknown.
from sklearn_openset import OpenMaxClassifier
from sklearn_openset.metrics import open_set_f1_score, unknown_roc_auc_score

results = {}


def evaluate(name, clf):
    f1 = open_set_f1_score(y_test, clf.predict(X_test), labels=classes)
    auroc = unknown_roc_auc_score(y_test, clf.score_samples(X_test))
    results[name] = (f1, auroc)
    print(f"{name:32s} macro-F1 {f1:.3f}  AUROC {auroc:.3f}")


openmax = OpenMaxClassifier(module=loaded, max_epochs=0, random_state=0)
openmax.fit(X_train, y_train)
evaluate("OpenMax, loaded network", openmax)
same = all(
    torch.equal(value, loaded.state_dict()[name])
    for name, value in openmax.net_.module_.state_dict().items()
)
print("weights unchanged:", same, "| epochs trained:", len(openmax.net_.history))

# %%
# The maximum softmax probability of the same network, its baseline, needs no
# estimator: it is the top softmax output. The AUROC takes it as the known
# score, like ``score_samples``.
with torch.no_grad():
    logits = loaded(torch.as_tensor(X_test))
msp_score = torch.softmax(logits, dim=1).max(dim=1).values.numpy()
auroc = unknown_roc_auc_score(y_test, msp_score)
print(f"{'MSP of the same network':32s} AUROC {auroc:.3f}")

# %%
# CAC needs a network trained with the CAC loss
# ---------------------------------------------
# :class:`~sklearn_openset.CACClassifier` rejects by the distance of the
# logits to class anchors, ``magnitude * e_class``; a network trained with
# cross-entropy does not put its logits near such points. The same loop
# trains one with :class:`~sklearn_openset.nn.CACLoss` on the distances of
# :class:`~sklearn_openset.nn.AnchorDistance` (magnitude 10, the default of
# both the loss and the classifier). With ``max_epochs=0``, ``fit`` moves the
# anchors to the mean logits of the correctly classified training samples and
# calibrates the threshold.
from sklearn_openset import CACClassifier
from sklearn_openset.nn import AnchorDistance, CACLoss

distance, cac_loss = AnchorDistance(n_classes, magnitude=10.0), CACLoss()
cac_network = train(
    make_network(), lambda logits, t, x: cac_loss(distance(logits), t), epochs=60
)
cac = CACClassifier(module=cac_network, max_epochs=0, random_state=0)
evaluate("CAC, CAC-trained network", cac.fit(X_train, y_train))

# %%
# CROSR needs a reconstruction network
# ------------------------------------
# :class:`~sklearn_openset.CROSRClassifier` fits OpenMax on the logits and
# the latent codes of a network that also reconstructs its input: its
# ``forward`` returns ``(logits, latent, reconstruction)``, as
# :class:`~sklearn_openset.nn.VectorDHRNet` does, trained with
# :class:`~sklearn_openset.nn.DHRNetLoss` (cross-entropy plus reconstruction
# error).
from sklearn_openset import CROSRClassifier
from sklearn_openset.nn import DHRNetLoss, VectorDHRNet

dhr_loss = DHRNetLoss()
dhrnet = train(
    VectorDHRNet(n_features, n_classes, hidden_layer_sizes=(128, 64)),
    lambda out, t, x: dhr_loss(out[0], out[2], t, x),
)
crosr = CROSRClassifier(module=dhrnet, max_epochs=0, random_state=0)
evaluate("CROSR, reconstruction network", crosr.fit(X_train, y_train))

# %%
# A fitted scikit-learn model: FrozenEstimator
# --------------------------------------------
# :class:`~sklearn_openset.OpenMaxClassifier` and
# :class:`~sklearn_openset.MSPClassifier` clone and fit the scikit-learn
# classifier they are given. Wrapped in
# :class:`~sklearn.frozen.FrozenEstimator`, a fitted model is used as it is:
# OpenMax fits only its Weibull tails on the model's ``decision_function``,
# MSP only its threshold. Here the model was fitted and pickled elsewhere, on
# the known digits.
import pickle

from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_openset import MSPClassifier

with open(Path(folder.name) / "digits_model.pkl", "wb") as file:
    pickle.dump(LogisticRegression(max_iter=1000).fit(X_train, y_train), file)
with open(Path(folder.name) / "digits_model.pkl", "rb") as file:
    model = pickle.load(file)
coef = model.coef_.copy()

frozen_openmax = OpenMaxClassifier(FrozenEstimator(model)).fit(X_train, y_train)
frozen_msp = MSPClassifier(FrozenEstimator(model)).fit(X_train, y_train)
evaluate("OpenMax, frozen scikit-learn", frozen_openmax)
evaluate("MSP, frozen scikit-learn", frozen_msp)
print("model refitted:", not np.array_equal(model.coef_, coef))
folder.cleanup()

# %%
# The frozen model's classes must be those of ``y``: fitted on other classes,
# it is a ``ValueError`` that says what to do.
not_first = y_train != classes[0]
try:
    MSPClassifier(FrozenEstimator(model)).fit(X_train[not_first], y_train[not_first])
except ValueError as error:
    print(error)

# %%
# The results side by side
# ------------------------
import matplotlib.pyplot as plt

names = list(results)
fig, ax = plt.subplots(figsize=(7, 3.5))
y_pos = np.arange(len(names))
ax.barh(y_pos - 0.2, [results[n][1] for n in names], height=0.4, label="AUROC")
ax.barh(y_pos + 0.2, [results[n][0] for n in names], height=0.4, label="macro-F1")
ax.set_yticks(y_pos, names)
ax.invert_yaxis()
ax.set_xlim(0, 1)
ax.legend(loc="lower right")
ax.set_title("Trained elsewhere, fitted here with max_epochs=0")
plt.tight_layout()
plt.show()
