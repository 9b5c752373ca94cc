"""
===============================================================
LfOSA: spending an annotation budget on the classes that matter
===============================================================

An unlabeled pool holds the classes we want labeled and many we do not. Every
sample of an unwanted class that an annotator is shown is a wasted label.
:class:`~sklearn_openset.active_learning.LfOSASampler` (Ning et al., CVPR
2022) trains a detector with one output per known class plus one for
"unknown", and queries the samples whose largest activation looks most like
a known class's.

We simulate annotation campaigns on scikit-learn's digits, three of the ten
digits being the classes of interest, and compare LfOSA with the baselines of
:mod:`sklearn_openset.active_learning`: random sampling, uncertainty and
certainty sampling, and the known-ness score of an open-set classifier.
"""

# %%
# A pool with 3 known digits out of 10
# ------------------------------------
#
# The pool is 70 % of the digits, the rest is the test set of the classifier
# that the labels train. Only 30 % of the pool is of a known class: random
# sampling would waste 7 labels out of 10.
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
known_classes = [0, 3, 7]
print(
    f"pool of {len(X_pool)} digits, {np.isin(y_pool, known_classes).mean():.0%} known"
)

# %%
# Campaigns with an oracle
# ------------------------
#
# :func:`~sklearn_openset.active_learning.simulate_annotation` labels 8 % of
# each known class, then at each cycle trains the classifier (a scaled
# logistic regression by default), lets the strategy choose 40 samples and
# answers as an annotator would: the digit for a known one, ``-1`` ("none of
# these") otherwise. Two seeds per strategy.
from sklearn_openset.active_learning import (
    CertaintySampler,
    LfOSASampler,
    OpenSetScoreSampler,
    RandomSampler,
    UncertaintySampler,
    simulate_annotation,
)

strategies = {
    "LfOSA": lambda seed: LfOSASampler(random_state=seed),
    "random": lambda seed: RandomSampler(random_state=seed),
    "uncertainty": lambda seed: UncertaintySampler(random_state=seed),
    "certainty": lambda seed: CertaintySampler(random_state=seed),
    "OpenMax score": lambda seed: OpenSetScoreSampler(random_state=seed),
}
runs = {
    name: [
        simulate_annotation(
            make(seed),
            X_pool,
            y_pool,
            known_classes,
            X_test=X_test,
            y_test=y_test,
            batch_size=40,
            n_cycles=8,
            random_state=seed,
        )
        for seed in (0, 1)
    ]
    for name, make in strategies.items()
}
for name, results in runs.items():
    recall = np.mean([r.recall[-1] for r in results])
    precision = np.mean([r.precision.mean() for r in results])
    print(f"{name:>13}: recall {recall:.2f}, mean precision {precision:.2f}")

# %%
# Recall and precision per cycle
# ------------------------------
#
# Recall: the share of the pool's known digits labeled so far. Precision: the
# share of each query that was a known digit. Random and uncertainty sampling
# stay near the 30 % of known digits in the pool (uncertainty even below: what
# no known class explains is mostly unknown); the strategies that look for
# known samples find them.
import matplotlib.pyplot as plt

from sklearn_openset.active_learning import AnnotationCurveDisplay

fig, (ax_recall, ax_precision) = plt.subplots(1, 2, figsize=(11, 4))
AnnotationCurveDisplay.from_simulations(runs, metric="recall", ax=ax_recall)
AnnotationCurveDisplay.from_simulations(runs, metric="precision", ax=ax_precision)
ax_precision.get_legend().remove()
fig.tight_layout()
plt.show()
