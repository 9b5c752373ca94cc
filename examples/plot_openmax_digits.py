"""
====================================================
OpenMax: the unknown probability grows with distance
====================================================

OpenMax (Bendale & Boult, CVPR 2016) fits, for every known class, a Weibull
distribution to the largest distances between the activation vectors (AVs)
of correctly classified training samples and their class mean. A test input
far from the mean of its top classes loses activation to an explicit
"unknown" class.

This example trains :class:`~sklearn_openset.OpenMaxClassifier` over a
logistic regression on scikit-learn's digits with 6 known and 4 unknown
digits, then shows how the unknown probability rises with the distance of an
input's AV from the mean AV of its predicted class.
"""

# %%
# Six known digits, four unknown ones
# -----------------------------------
# :func:`~sklearn_openset.datasets.load_digits_open_set` draws the known
# digits with a seed; the test labels of the other digits are ``-1``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from sklearn_openset import MSPClassifier, OpenMaxClassifier
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.metrics import open_set_f1_score, unknown_roc_auc_score

X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
print("known digits:", np.unique(y_train))

openmax = OpenMaxClassifier(LogisticRegression(max_iter=1000), tail_size=20)
openmax.fit(X_train, y_train)
msp = MSPClassifier(LogisticRegression(max_iter=1000)).fit(X_train, y_train)

# The metrics get the known classes as ``labels``: every other label of
# ``y_test`` counts as unknown.
for name, clf in [("OpenMax", openmax), ("MSP", msp)]:
    f1 = open_set_f1_score(y_test, clf.predict(X_test), labels=clf.classes_)
    auroc = unknown_roc_auc_score(y_test, clf.score_samples(X_test))
    print(f"{name:8s} macro-F1 {f1:.3f}  AUROC {auroc:.3f}")

# %%
# The unknown probability against the distance to the class mean
# ---------------------------------------------------------------
# The activation vectors are the logistic regression's decision function. For
# each test input we take the eucos distance (euclidean / 200 + cosine, the
# original code's metric) between its AV and the mean AV of its top class,
# and plot it against OpenMax's unknown probability, the last column of
# :meth:`~sklearn_openset.OpenMaxClassifier.predict_open_proba`. The dashed
# curves are the Weibull CDFs of the known classes, one per class: the
# probability that a distance to that class's mean is an extreme one.
from scipy.spatial.distance import cdist

av = openmax.estimator_.decision_function(X_test)
top = av.argmax(axis=1)
means = openmax.mean_activation_vectors_
distance = (cdist(av, means, "euclidean") / 200 + cdist(av, means, "cosine"))[
    np.arange(len(av)), top
]
p_unknown = openmax.predict_open_proba(X_test)[:, -1]
is_unknown = y_test == -1

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(
    distance[~is_unknown], p_unknown[~is_unknown], s=12, alpha=0.6, label="known digit"
)
ax.scatter(
    distance[is_unknown], p_unknown[is_unknown], s=12, alpha=0.6, label="unknown digit"
)
grid = np.linspace(0, distance.max(), 200)
weibull = openmax.weibull_.w_score(np.repeat(grid[:, None], len(means), axis=1))
for k in range(len(means)):
    ax.plot(
        grid,
        weibull[:, k],
        "k--",
        lw=0.8,
        alpha=0.6,
        label="Weibull CDF of each class" if k == 0 else None,
    )
ax.set_xlabel("eucos distance of the AV to the mean AV of the top class")
ax.set_ylabel("OpenMax unknown probability")
ax.legend(loc="upper left")
ax.set_title("Far from the class mean, the activation goes to 'unknown'")
plt.tight_layout()
plt.show()

# %%
# Unknown inputs sit further from the class means: their median distance is
# larger, and so is their median unknown probability.
print(
    f"median distance, known {np.median(distance[~is_unknown]):.3f}, "
    f"unknown {np.median(distance[is_unknown]):.3f}"
)
print(
    f"median unknown probability, known {np.median(p_unknown[~is_unknown]):.3f}, "
    f"unknown {np.median(p_unknown[is_unknown]):.3f}"
)
