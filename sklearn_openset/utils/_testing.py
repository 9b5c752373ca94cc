"""Test settings of every public estimator, kept in one place.

Like scikit-learn's ``sklearn/utils/_test_common/instance_generator.py``:
the configurations the common checks run over (few epochs, seeded; more than
one per estimator: default network, a scikit-learn estimator, a number and
``"auto"`` as threshold) and the one table of checks that fail by nature,
each with its reason.
"""

import inspect

from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

# -- reasons -----------------------------------------------------------------------
_REJECTS_TRAINING = (
    "it asserts predict == classes_[argmax(predict_proba or decision_function)] "
    "on the training data; {rule} rejects some training samples, for which "
    "predict answers open_label"
)
_OPEN_LABEL_COLLISION = (
    "it also fits on y = [-1, 1], and -1 is the default open_label: fit refuses an "
    "open_label that collides with a class, by design"
)


def _train_checks(reason):
    return {
        check: reason
        for check in (
            "check_classifiers_train",
            "check_classifiers_train(readonly_memmap=True)",
            "check_classifiers_train(readonly_memmap=True,X_dtype=float32)",
        )
    }


def _classes_check(rule):
    return {
        "check_classifiers_classes": (
            f"on its string-labelled blobs {rule} rejects some training samples, so "
            "predict answers open_label where the check expects a class; "
            + _OPEN_LABEL_COLLISION
        )
    }


_MSP_RULE = "a top probability below the threshold"
_OPENMAX_RULE = "OpenMax's own rule (the unknown class has the highest probability)"
_AUTO_RULE = "threshold='auto' (5 % of the correctly classified samples)"
_ANS_RULE = "ANS's own rule (every one-vs-rest head says negative)"

_OPENMAX_RANDOM_LABELS = (
    "it fits on random labels (X ~ N(100, 1)); the network then classifies no "
    "training sample of one class correctly, and OpenMax, which needs correctly "
    "classified samples of every class for its means and Weibulls, raises a "
    "ValueError naming the class"
)
_OPENMAX_EQUAL_DISTANCES = (
    "LogisticRegression classifies only 2 (check_fit2d_1feature) or 4 samples "
    "on two activation vectors (check_classifier_data_not_an_array) of a class "
    "correctly, all at one distance from their mean: no Weibull can be fitted to "
    "a single-valued tail and OpenMax raises its 'Weibull fit failed' ValueError"
)

_CROSR_ONE_FEATURE = (
    "it fits 10 samples of a single feature in 3 classes and accepts only success "
    "or a '1 feature(s)' error; the DHRNet then classifies no training sample of "
    "one class correctly and CROSR's OpenMax raises its ValueError naming the class"
)

_COLLISION_ONLY = (
    "it fits on y = [-1, 1], and -1 is the default open_label: fit refuses an "
    "open_label that collides with a class, by design"
)
_ANS_UNDER_TRAINED = (
    "it asserts a training accuracy of predict above 0.83 on 300 2-d blobs; "
    "with the test settings (2 epochs) the known-class classifier is right on "
    "0.93 of them, but the one-vs-rest heads reject 32 % (predict's accuracy "
    "0.61), and with 30 epochs still 25 % (0.75): the synthesized negatives "
    "start at sqrt(2 Tr Sigma) from each training sample, within the spread "
    "of its class in 2 dimensions"
)
_FLOAT32_BATCH = (
    "it compares the outputs of a batch and of its rows one by one with atol "
    "1e-7; inference in float32 (the default) moves them by float32 rounding "
    "(about 1e-6), within the open-set checks' bound; inference_dtype='float64' "
    "passes it"
)

_TUNER_BINARY = (
    "it fits on 2 classes; the default cv makes pseudo-open splits "
    "(PseudoOpenSetSplit), which need at least 3 classes (2 sub-known, 1 "
    "sub-open), and fit raises a ValueError saying so (the configuration with "
    "cv=StratifiedKFold(3) runs this check)"
)
_TUNER_BINARY_MESSAGE = (
    _TUNER_BINARY
    + "; the check expects a message about X from that fit, and fit refuses the "
    "2 classes of y before the wrapped estimator sees X"
)
_TUNER_NO_THRESHOLD = (
    "TunedOpenSetThresholdCV has no threshold parameter (set_params(threshold=...) "
    "raises): it chooses threshold_ itself. tests/test_threshold_tuning.py checks "
    "that predict is the wrapped estimator's prediction (threshold=None) plus "
    "rejection where score_samples < threshold_"
)

# -- configurations ---------------------------------------------------------------
_CAC_FAST = {"max_epochs": 20, "random_state": 0}
_ANS_FAST = {
    "max_epochs": 2,
    "head_hidden_layer_sizes": (16,),
    "random_state": 0,
}
_OPENMAX_NET = {"max_epochs": 10, "tail_size": 5, "random_state": 0}
_CROSR_FAST = {
    "max_epochs": 30,
    "batch_size": 32,
    "lr": 0.01,
    "tail_size": 5,
    "random_state": 0,
}


def _configurations():
    """``(estimator class name, params, expected failed sklearn checks)``."""
    from .._msp import MSPClassifier

    return {
        "MSPClassifier": [
            (
                {},
                {
                    **_classes_check(_MSP_RULE),
                    **_train_checks(_REJECTS_TRAINING.format(rule=_MSP_RULE)),
                },
            ),
            (
                {"threshold": "auto"},
                {
                    **_classes_check(_MSP_RULE),
                    **_train_checks(_REJECTS_TRAINING.format(rule=_MSP_RULE)),
                    "check_classifiers_one_label_sample_weights": (
                        "it asserts that every sample gets the one class left after "
                        "sample_weight trimming; threshold='auto' rejects the 5 % "
                        "least confident training samples, which predict answers "
                        "open_label"
                    ),
                },
            ),
        ],
        "OpenMaxClassifier": [
            (
                _OPENMAX_NET,
                {
                    **_classes_check(_OPENMAX_RULE),
                    **_train_checks(_REJECTS_TRAINING.format(rule=_OPENMAX_RULE)),
                    "check_methods_subset_invariance": _FLOAT32_BATCH,
                    **{
                        check: _OPENMAX_RANDOM_LABELS
                        for check in (
                            "check_fit_idempotent",
                            "check_fit_check_is_fitted",
                            "check_n_features_in",
                        )
                    },
                },
            ),
            (
                {
                    "estimator": LogisticRegression(),
                    "tail_size": 5,
                    "threshold": "auto",
                },
                {
                    **_classes_check(_OPENMAX_RULE),
                    **_train_checks(_REJECTS_TRAINING.format(rule=_OPENMAX_RULE)),
                    "check_fit2d_1feature": _OPENMAX_EQUAL_DISTANCES,
                    "check_classifier_data_not_an_array": _OPENMAX_EQUAL_DISTANCES,
                },
            ),
        ],
        "CROSRClassifier": [
            (
                _CROSR_FAST,
                {
                    "check_classifiers_classes": _COLLISION_ONLY,
                    **_train_checks(_REJECTS_TRAINING.format(rule=_AUTO_RULE)),
                    "check_methods_subset_invariance": _FLOAT32_BATCH,
                    "check_fit2d_1feature": _CROSR_ONE_FEATURE,
                    **{
                        check: _OPENMAX_RANDOM_LABELS
                        for check in (
                            "check_fit_idempotent",
                            "check_fit_check_is_fitted",
                            "check_n_features_in",
                        )
                    },
                },
            ),
        ],
        "ANSOneVsRestClassifier": [
            (
                _ANS_FAST,
                {
                    "check_classifiers_classes": _COLLISION_ONLY,
                    **_train_checks(_ANS_UNDER_TRAINED),
                    # The default known-class classifier has a hidden layer
                    # (768, the paper's) since 2026-12-03.
                    "check_methods_subset_invariance": _FLOAT32_BATCH,
                },
            ),
            (
                {**_ANS_FAST, "inference_dtype": "float64"},
                {
                    "check_classifiers_classes": _COLLISION_ONLY,
                    **_train_checks(_ANS_UNDER_TRAINED),
                },
            ),
        ],
        "CACClassifier": [
            (
                _CAC_FAST,
                {
                    **_classes_check(_AUTO_RULE),
                    **_train_checks(_REJECTS_TRAINING.format(rule=_AUTO_RULE)),
                    "check_methods_subset_invariance": _FLOAT32_BATCH,
                },
            ),
            (
                {**_CAC_FAST, "threshold": None, "inference_dtype": "float64"},
                {"check_classifiers_classes": _COLLISION_ONLY},
            ),
        ],
        "TunedOpenSetThresholdCV": [
            (
                # 11 rates instead of 51: the checks fit it many times.
                {"estimator": MSPClassifier(LogisticRegression()), "n_rates": 11},
                {
                    **{
                        check: _TUNER_BINARY
                        for check in (
                            "check_estimators_dtypes",
                            "check_pipeline_consistency",
                            "check_estimators_pickle",
                            "check_estimators_pickle(readonly_memmap=True)",
                            "check_classifier_data_not_an_array",
                            "check_decision_proba_consistency",
                            "check_fit_idempotent",
                            "check_fit_check_is_fitted",
                            "check_n_features_in",
                        )
                    },
                    **_train_checks(_TUNER_BINARY),
                    "check_classifiers_classes": (
                        _TUNER_BINARY + "; " + _OPEN_LABEL_COLLISION
                    ),
                    "check_estimators_nan_inf": (
                        _TUNER_BINARY + "; the check expects that ValueError to "
                        "name the NaN or inf in X, which the wrapped estimator "
                        "would (the configuration with cv=StratifiedKFold(3) "
                        "passes it)"
                    ),
                    "check_estimators_empty_data_messages": _TUNER_BINARY_MESSAGE,
                    "check_fit2d_1feature": _TUNER_BINARY_MESSAGE,
                },
            ),
            (
                # Splits of the known classes only, which 2 classes allow: the
                # test folds hold no unknowns, so rate 0 (no threshold) wins,
                # but every step of fit and predict runs.
                {
                    "estimator": MSPClassifier(LogisticRegression()),
                    "cv": StratifiedKFold(3),
                    "n_rates": 5,
                },
                {"check_classifiers_classes": _COLLISION_ONLY},
            ),
        ],
    }


#: Configurations that only the open-set checks run over: scikit-learn's checks
#: feed generic features, which are no activation vectors.
OPEN_SET_ONLY = {"OpenMaxClassifier": [{"estimator": "precomputed", "tail_size": 5}]}


def all_estimators():
    """Public estimator classes, as ``(name, class)``.

    Those of ``sklearn_openset`` and of its subpackages that hold estimators
    (:mod:`sklearn_openset.model_selection`: the threshold tuner; its
    splitter is no estimator).
    """
    import sklearn_openset
    import sklearn_openset.model_selection

    found = set()
    for module in (sklearn_openset, sklearn_openset.model_selection):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found.add((name, obj))
    return sorted(found, key=lambda item: item[0])


def make_test_instances():
    """Instances for scikit-learn's checks, one per configuration."""
    configurations = _configurations()
    return [
        cls(**params)
        for name, cls in all_estimators()
        for params, _ in configurations.get(name, [({}, {})])
    ]


def open_set_test_instances():
    """Instances for the open-set checks: every configuration."""
    only = {
        name: [cls(**params) for params in OPEN_SET_ONLY.get(name, [])]
        for name, cls in all_estimators()
    }
    return make_test_instances() + [est for name in sorted(only) for est in only[name]]


def _changed_params(estimator):
    """The parameters of ``estimator`` that differ from its class defaults."""
    defaults = {
        key: parameter.default
        for key, parameter in inspect.signature(type(estimator)).parameters.items()
    }
    return {
        key: value
        for key, value in estimator.get_params(deep=False).items()
        if not _same(value, defaults.get(key))
    }


def _same(a, b):
    # Estimators as parameters compare by type (clones are other objects),
    # cross-validation splitters by their parameters (their repr).
    if isinstance(a, BaseEstimator) or isinstance(b, BaseEstimator):
        return type(a) is type(b)
    if hasattr(a, "split") and hasattr(a, "get_n_splits"):
        return type(a) is type(b) and repr(a) == repr(b)
    return type(a) is type(b) and a == b


def expected_failed_checks(estimator):
    """The scikit-learn checks ``estimator``'s configuration fails, with reasons."""
    changed = _changed_params(estimator)
    params = estimator.get_params(deep=False)
    for config, failures in _configurations().get(type(estimator).__name__, []):
        if changed.keys() <= config.keys() and all(
            _same(params[key], value) for key, value in config.items()
        ):
            return failures
    return {}


def expected_failed_open_set_checks(estimator):
    """The open-set checks ``estimator`` fails, with reasons."""
    if type(estimator).__name__ == "TunedOpenSetThresholdCV":
        return {"check_threshold_in_score_units": _TUNER_NO_THRESHOLD}
    return {}
