"""
==========================================================
Choosing the rejection threshold without any unknown data
==========================================================

Every open-set classifier rejects an input when its known-ness score falls
below a threshold, and the best threshold depends on unknown inputs that are
not there at training time.
:class:`~sklearn_openset.model_selection.TunedOpenSetThresholdCV` chooses it
on the known classes alone: on each pseudo-open split, part of the known
classes plays the unknown, and the share of known samples to reject that
gives the best macro-F1 is kept.

We draw the curve it optimizes (``cv_results_``), the rate it picks, and the
same curve measured on the real test set with its real unknown digits, which
no method can see when it chooses: the oracle.
"""

# %%
# Tuning MSP on six known digits
# ------------------------------
import numpy as np
from sklearn.linear_model import LogisticRegression

from sklearn_openset import MSPClassifier
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.metrics import open_set_f1_score
from sklearn_openset.model_selection import TunedOpenSetThresholdCV

X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
tuned = TunedOpenSetThresholdCV(
    MSPClassifier(LogisticRegression(max_iter=1000)), random_state=0
).fit(X_train, y_train)
print(
    f"chosen rejection rate of known samples: {tuned.best_rejection_rate_:.2f}, "
    f"threshold {tuned.threshold_:.3f}"
)

# %%
# The test-set curve
# ------------------
#
# For the final model, the threshold that rejects a share ``r`` of the known
# test digits, for every ``r`` of the tuner's grid, and the macro-F1 it gives
# on the test set (known and unknown digits).
model = tuned.estimator_
scores = model.score_samples(X_test)
y_closed = model.classes_[np.argmax(model.predict_proba(X_test), axis=1)]
rates = tuned.cv_results_["rejection_rate"]
known_scores = scores[y_test != -1]
test_f1 = []
for rate in rates:
    threshold = -np.inf if rate == 0 else np.quantile(known_scores, rate)
    y_pred = np.where(scores < threshold, -1, y_closed)
    test_f1.append(open_set_f1_score(y_test, y_pred, labels=model.classes_))
test_f1 = np.array(test_f1)
tuned_f1 = open_set_f1_score(y_test, tuned.predict(X_test), labels=model.classes_)
print(f"test macro-F1: tuned {tuned_f1:.3f}, oracle {test_f1.max():.3f}")

# %%
# Cross-validated curve, choice and oracle
# ----------------------------------------
#
# The pseudo-open curve (mean over the splits, one standard deviation
# shaded) has its maximum near the test curve's: what the sub-known and
# sub-open classes say about the trade-off carries over to the real unknown
# digits.
import matplotlib.pyplot as plt

mean = tuned.cv_results_["mean_score"]
std = tuned.cv_results_["std_score"]
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.plot(rates, mean, label="pseudo-open CV (what the tuner sees)")
ax.fill_between(rates, mean - std, mean + std, alpha=0.2)
ax.plot(rates, test_f1, label="test set (the oracle's view)")
ax.axvline(tuned.best_rejection_rate_, color="black", linestyle="--", label="chosen")
ax.plot(rates[np.argmax(test_f1)], test_f1.max(), "o", color="C1", label="oracle")
ax.set(xlabel="share of known samples rejected", ylabel="macro-F1 (known + open)")
ax.legend()
plt.show()
