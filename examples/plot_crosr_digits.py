"""
=====================================================================
CROSR: what a reconstructing network rebuilds, and what it rejects
=====================================================================

:class:`~sklearn_openset.CROSRClassifier` (Yoshihashi et al., CVPR 2019)
trains a Deep Hierarchical Reconstruction Net to classify the known classes
and to rebuild its input from small latent codes taken after each encoder
stage. OpenMax then runs on the logits together with those codes, and gives
every input a probability of being unknown.

We train it on six of scikit-learn's 8x8 digits and show, for known digits,
unknown digits and two kinds of outliers of the CROSR paper (uniform noise,
and digits buried in noise), the input, its reconstruction and its unknown
probability.
"""

# %%
# Data: six known digits as 1x8x8 images
# ---------------------------------------
#
# :func:`~sklearn_openset.datasets.load_digits_open_set` keeps 6 of the 10
# digits known (scaled to [0, 1]); the test set's other digits are labelled
# ``-1``. The network takes images ``(n_samples, channels, height, width)``.
import numpy as np

from sklearn_openset.datasets import load_digits_open_set

X_train, X_test, y_train, y_test = load_digits_open_set(known_ratio=0.6, random_state=0)
X_train = X_train.reshape(-1, 1, 8, 8).astype(np.float32)
X_test = X_test.reshape(-1, 1, 8, 8).astype(np.float32)
print(f"known digits {np.unique(y_train)}; {len(X_train)} training images")

# %%
# Outliers as in the CROSR paper
# ------------------------------
#
# "Noise": every pixel uniform in [0, 1]. "Digits + noise": known test digits
# with that noise added, clipped to [0, 1].
rng = np.random.default_rng(0)
known_test = X_test[y_test != -1]
noise = rng.uniform(size=(len(known_test), 1, 8, 8)).astype(np.float32)
digits_noise = np.clip(known_test + noise, 0, 1).astype(np.float32)

# %%
# Training
# --------
#
# The default network for images is the paper's MNIST DHRNet (five 3x3
# convolutions of 100 channels, two poolings, a 32-channel latent code after
# each of its three stages), trained with cross-entropy plus the L2
# reconstruction error, weights 1 and 1.
from sklearn_openset import CROSRClassifier

clf = CROSRClassifier(max_epochs=20, batch_size=32, random_state=0)
clf.fit(X_train, y_train)
history = clf.net_.history
print(
    f"last epoch: cross-entropy {history[-1, 'train_classification_loss']:.3f}, "
    f"reconstruction {history[-1, 'train_reconstruction_loss']:.4f}"
)

# %%
# How well it rejects
# -------------------
#
# The AUROC of :meth:`~sklearn_openset.CROSRClassifier.score_samples` for the
# known test digits against each kind of unknown input.
from sklearn_openset.metrics import unknown_roc_auc_score

known_scores = clf.score_samples(known_test)
for name, outliers in [
    ("unknown digits", X_test[y_test == -1]),
    ("noise", noise),
    ("digits + noise", digits_noise),
]:
    scores = np.concatenate([known_scores, clf.score_samples(outliers)])
    labels = np.r_[np.zeros(len(known_test)), -np.ones(len(outliers))]
    print(f"AUROC, known digits vs {name}: {unknown_roc_auc_score(labels, scores):.3f}")

# %%
# Inputs, reconstructions and unknown probabilities
# -------------------------------------------------
#
# Each pair of rows shows inputs and what the network rebuilds from their
# latent codes; the title is the OpenMax probability of the unknown class.
import matplotlib.pyplot as plt

groups = [
    ("known", known_test[:4]),
    ("unknown digit", X_test[y_test == -1][:4]),
    ("noise", noise[:4]),
    ("digit + noise", digits_noise[:4]),
]
fig, axes = plt.subplots(2, 16, figsize=(13, 2.6))
column = 0
for name, images in groups:
    p_unknown = clf.predict_open_proba(images)[:, -1]
    rebuilt = clf.reconstruct(images)
    for image, again, p in zip(images, rebuilt, p_unknown):
        axes[0, column].imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
        axes[0, column].set_title(f"{name}\nP(unk)={p:.2f}", fontsize=6)
        axes[1, column].imshow(again[0], cmap="gray_r", vmin=0, vmax=1)
        column += 1
for ax in axes.ravel():
    ax.set_axis_off()
axes[0, 0].text(-4, 4, "input", rotation=90, va="center", fontsize=7)
axes[1, 0].text(-4, 4, "rebuilt", rotation=90, va="center", fontsize=7)
fig.tight_layout()
plt.show()
