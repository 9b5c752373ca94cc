"""Open-set quality of OpenMaxClassifier under the CAC paper's protocol (MNIST and digits).

Protocol (``shared/BENCHMARKS.md``, "class-split open-set recognition"): 6 known
/ 4 unknown digits, one trial per known-class list of
``CAC_MNIST_KNOWN_CLASSES`` (5 trials).

* MNIST: train on the known digits of the 5k training subset, test on the full
  10k test set with the unknown digits relabelled -1. Pixels scaled to [0, 1].
* scikit-learn digits: ``load_digits_open_set(known_classes=..., random_state=trial)``,
  a 70/30 stratified split per trial, pixels scaled to [0, 1].

Estimators (``random_state=trial`` wherever there is one):

* ``openmax-mlp``: ``OpenMaxClassifier()``, the default network (an MLP with
  hidden layers 256, 128, 30 epochs of Adam) on the flattened pixels;
* ``openmax-small-cnn``: ``OpenMaxClassifier(module=small_cnn)``, the small
  LeNet-style CNN of the CAC benchmark (``benchmarks/_common.py``), on the
  images, with the estimator's default training (30 epochs of Adam, lr 1e-3).
  With ``--recipe reference`` (the ``openmax-small-cnn+reference`` rows; the
  other estimators are always ``plain``): the network trained as the CAC
  reference code trains its closed-set (cross-entropy) classifier on MNIST,
  with the CAC benchmark's implementation of that recipe
  (``_common.reference_recipe``, ``_common.SGDWeightDecay``): random resized
  crops of each training batch (scale 0.7-1, a layer active in train mode
  only, so the activation vectors of the fit and of prediction come from the
  plain images), pixels standardized by the mean and standard deviation of the
  trial's training images, SGD with momentum 0.9, weight decay 5e-6 and a
  constant lr 0.01 (the reference code's MNIST ``closedset_training``; the
  estimator passes its ``lr`` to the optimizer, so it is set). Epochs (30),
  batch size (128) and everything else as in the plain rows;
* ``openmax-compact-cnn`` (opt-in): ``OpenMaxClassifier(module=compact_cnn)``,
  the CAC benchmark's CPU-sized CNN in classifier32's style (five 3x3
  convolutions with BatchNorm and LeakyReLU, global max pooling; about 7x
  cheaper than classifier32), trained like ``openmax-small-cnn`` (30 epochs;
  with ``--recipe reference``, the reference recipe). ``--recipe step`` (the
  ``+step`` rows) is the reference recipe with CACClassifier's step schedule
  (lr 0.01, then 0.001 after half the epochs, ``_cac._step_lr_schedule``):
  the network is trained as the CAC benchmark's cross-entropy baseline
  (``ce-msp``), so OpenMax, that baseline's softmax and CAC are compared on
  one training recipe, as in the CAC paper's Table 2;
* ``openmax-cnn``: ``OpenMaxClassifier(max_epochs=--cnn-epochs)``, the default
  classifier32 CNN on the images ``(n, 1, 28, 28)`` (digits: ``(n, 1, 8, 8)``;
  both are resized to 32x32 inside the network);
* ``openmax-lr``: ``OpenMaxClassifier(LogisticRegression(max_iter=1000))`` on the
  flattened pixels (AVs = the decision function);
* ``msp-lr``: ``MSPClassifier()``, the maximum-softmax baseline (its default
  ``LogisticRegression(max_iter=1000)``, threshold 0.5) on the flattened pixels.

Metrics come from ``sklearn_openset.evaluation.evaluate_estimator`` (AUROC with
unknown as the positive class, macro-F1 over the 6 known classes + open,
F1-open, closed-set accuracy, accuracy over C+1, fit and predict times; predict
time covers ``predict``, ``score_samples`` and ``predict_proba`` together).
Every OpenMax row also holds the AUROC of three other scores of the same
activation vectors (no second training): the maximum softmax probability
(``auroc_same_network_msp``, the paper's Softmax baseline) and the two
scores of Neal et al.'s evaluation code, from which the published OpenMax and
Softmax AUROCs come (``neal_scores_aurocs``): OpenMax with
``known_score="logsumexp"`` and the euclidean distance (``auroc_neal``) and
the log-sum-exp of the activations (``auroc_same_network_logsumexp``).

Runs merge: the rows of a run replace those of the same dataset and estimator
(recipe included) in ``results_quality.json``; the others stay, with the run
that made them (command, date, machine, wall time). ``--no-merge`` starts the
file afresh. Results are written after every trial, so an interrupted run
leaves its finished trials (marked as a partial run).

The epsilon table re-uses each fitted OpenMax model and only changes its
rejection threshold (``threshold_``, the paper's epsilon: reject when the
unknown class wins or the top probability is below epsilon) before calling
``predict`` again. It is information only: no value is chosen on test data.

Run (from the repository root; the project's virtualenv is enough)::

    python benchmarks/openmax/bench_quality.py --threads 1
    python benchmarks/openmax/bench_quality.py --threads 1 \
        --datasets mnist --estimators openmax-small-cnn --recipe reference
    python benchmarks/openmax/bench_quality.py --threads 1 \
        --datasets mnist --estimators openmax-compact-cnn --recipe step

It writes ``results_quality.md`` and ``results_quality.json`` next to this file;
``--render-only benchmarks/openmax/results_quality.json`` rewrites the markdown.
"""

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import (
    SGDWeightDecay,
    activation_scores_aurocs,
    add_output_arguments,
    compact_cnn,
    reference_recipe,
    relative,
    results_header,
    run_record,
    small_cnn,
)

from sklearn_openset import MSPClassifier, OpenMaxClassifier
from sklearn_openset._cac import _step_lr_schedule
from sklearn_openset.datasets import CAC_MNIST_KNOWN_CLASSES
from sklearn_openset.evaluation import (
    evaluate_estimator,
    load_class_split_trial,
    summarize,
)
from sklearn_openset.metrics import open_set_f1_score
from sklearn_openset.nn import Classifier32

HERE = Path(__file__).resolve().parent

ESTIMATORS = (
    "openmax-mlp",
    "openmax-small-cnn",
    "openmax-compact-cnn",
    "openmax-cnn",
    "openmax-lr",
    "msp-lr",
)
IMAGE_ESTIMATORS = ("openmax-small-cnn", "openmax-compact-cnn", "openmax-cnn")
# Opt-in: too slow for the default run's budget on 2 CPU cores.
OPT_IN = ("openmax-compact-cnn", "openmax-cnn")
METRICS = (
    "auroc",
    "macro_f1",
    "closed_accuracy",
    "f1_open",
    "accuracy",
    "fit_time",
    "predict_time",
)
HEADERS = {
    "auroc": "AUROC",
    "macro_f1": "Macro-F1",
    "closed_accuracy": "Closed acc",
    "f1_open": "F1-open",
    "accuracy": "Acc (C+1)",
    "fit_time": "Fit (s)",
    "predict_time": "Predict (s)",
}
RECIPES = ("plain", "reference", "step")
# The networks whose epochs --epochs sets, and their default.
EPOCHS_ESTIMATORS = ("openmax-mlp", "openmax-small-cnn", "openmax-compact-cnn")
DEFAULT_NETWORK_EPOCHS = OpenMaxClassifier().max_epochs
# The reference code's closed-set lr on MNIST (SGD, momentum 0.9, constant).
REFERENCE_LR = 0.01
# CAC paper, Table 2 (classifier32 trained on the full 60k MNIST training set).
PUBLISHED_MNIST_AUROC = {"OpenMax": 0.981, "Softmax": 0.978}


def load_trial(dataset, trial, data_home=None):
    """Flat features, images and labels of one trial; unknown test labels are -1."""
    img_train, img_test, y_train, y_test = load_class_split_trial(
        trial, dataset, images=True, dtype=np.float32, data_home=data_home
    )
    return {
        "X_train": img_train.reshape(len(img_train), -1),
        "X_test": img_test.reshape(len(img_test), -1),
        "img_train": img_train,
        "img_test": img_test,
        "y_train": np.asarray(y_train),
        "y_test": np.asarray(y_test),
        "known": list(CAC_MNIST_KNOWN_CLASSES[trial]),
    }


def make_estimator(
    name,
    trial,
    cnn_epochs,
    side=28,
    n_classes=6,
    recipe="plain",
    img_train=None,
    device="cpu",
    epochs=None,
):
    """The unfitted estimator ``name`` of a trial.

    ``recipe="reference"`` or ``"step"`` (the CNNs only) wraps the CNN in the CAC
    benchmark's reference recipe, whose standardization takes the mean and
    standard deviation of ``img_train``, and trains it with SGD (momentum 0.9,
    weight decay 5e-6, lr ``REFERENCE_LR``); ``"step"`` divides the lr by 10
    after half the epochs (CACClassifier's schedule). ``device`` is the torch
    device of the networks; ``epochs``, if given, the ``max_epochs`` of the MLP
    and the small and compact CNNs (classifier32's is ``cnn_epochs``).
    """
    if recipe != "plain" and name not in IMAGE_ESTIMATORS:
        raise ValueError(f"recipe {recipe!r} is run with {IMAGE_ESTIMATORS} only")
    deep = {"random_state": trial, "device": device}
    if epochs is not None and name in EPOCHS_ESTIMATORS:
        deep["max_epochs"] = epochs
    if name == "openmax-mlp":
        return OpenMaxClassifier(**deep)
    if name in IMAGE_ESTIMATORS:
        # Callables: the module is built under the fit's seed.
        if name == "openmax-small-cnn":

            def build():
                return small_cnn(n_classes, side=side)

        elif name == "openmax-compact-cnn":

            def build():
                return compact_cnn(n_classes)

        else:  # the estimator's default CNN for images, to wrap in the recipe

            def build():
                return Classifier32(n_classes, in_channels=1)

            deep["max_epochs"] = cnn_epochs
        if recipe in ("reference", "step"):
            if recipe == "step":
                max_epochs = deep.get("max_epochs", DEFAULT_NETWORK_EPOCHS)
                deep["callbacks"] = [_step_lr_schedule(max_epochs)]
            return OpenMaxClassifier(
                module=reference_recipe(build, img_train),
                optimizer=SGDWeightDecay,
                lr=REFERENCE_LR,
                **deep,
            )
        if name == "openmax-cnn":
            return OpenMaxClassifier(**deep)  # module=None: the default itself
        return OpenMaxClassifier(module=build, **deep)
    if name == "openmax-lr":
        return OpenMaxClassifier(
            LogisticRegression(max_iter=1000, random_state=trial), random_state=trial
        )
    if name == "msp-lr":
        # No random_state: LogisticRegression (lbfgs) is deterministic.
        return MSPClassifier()
    raise ValueError(name)


def same_network_msp_auroc(estimator, X_test, y_test):
    """AUROC of the maximum softmax probability of OpenMax's own activations.

    The paper's "Softmax" baseline on the very network (or estimator) that
    OpenMax recalibrates: same training, only the score differs.
    """
    av = estimator._activation_vectors_chunked(
        estimator._validate_X(X_test, reset=False)
    )
    msp = softmax(av, axis=1).max(axis=1)
    return float(roc_auc_score(y_test == -1, -msp))


def neal_scores_aurocs(estimator, X_train, y_train, X_test, y_test):
    """AUROCs of the scores of Neal et al.'s evaluation code on the same AVs.

    ``auroc_neal``: OpenMax with ``known_score="logsumexp"`` and the euclidean
    distance (their OpenMax score; the published OpenMax AUROCs are theirs),
    fitted on the AVs of the same fitted network or estimator.
    ``auroc_same_network_logsumexp``: their "softmax" score, the log-sum-exp
    of the AVs. Computed by the CAC benchmark's
    ``_common.activation_scores_aurocs``.
    """

    def avs(X):
        return estimator._activation_vectors_chunked(
            estimator._validate_X(X, reset=False)
        )

    aurocs = activation_scores_aurocs(avs(X_train), y_train, avs(X_test), y_test)
    return {
        "auroc_neal": float(aurocs["openmax_neal_auroc"]),
        "auroc_same_network_logsumexp": float(aurocs["logsumexp_auroc"]),
    }


def epsilon_macro_f1(estimator, X_test, y_test, epsilons):
    """Macro-F1 of a fitted OpenMax at each rejection threshold epsilon."""
    out = {}
    for eps in epsilons:
        # epsilon is read at predict: a shallow copy shares the fitted network
        # and Weibulls, no refit per value.
        model = copy.copy(estimator).set_params(epsilon=float(eps))
        y_pred = model.predict(X_test)
        out[f"{eps:g}"] = {
            "macro_f1": float(
                open_set_f1_score(
                    y_test, y_pred, labels=estimator.classes_, open_label=-1
                )
            ),
            "rejected_fraction": float(np.mean(y_pred == -1)),
        }
    return out


def cnn_cost_probe(cnn_epochs, n_repeats=2):
    """Seconds of one training step (batch 128) and one 1000-image forward pass.

    Times the default classifier32 on MNIST-sized inputs (28x28, resized to 32x32
    inside the network) and extrapolates the cost of one trial of the protocol:
    ``cnn_epochs`` epochs over the training set, one forward pass over it (the
    activation vectors of the fit) and three over the test set (``predict``,
    ``score_samples``, ``predict_proba`` in ``evaluate_estimator``).
    """
    from sklearn_openset.nn import Classifier32

    torch.manual_seed(0)
    net = Classifier32(6, in_channels=1)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = torch.rand(128, 1, 28, 28), torch.randint(0, 6, (128,))
    steps = []
    for _ in range(n_repeats):
        start = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
        steps.append(time.perf_counter() - start)
    net.eval()
    forwards = []
    with torch.no_grad():
        for _ in range(n_repeats):
            start = time.perf_counter()
            net(torch.rand(500, 1, 28, 28))
            forwards.append(2 * (time.perf_counter() - start))  # per 1000 images
    step, forward = float(np.median(steps)), float(np.median(forwards))

    def trial_cost(n_train, n_test):
        n_steps = -(-n_train // 128) * cnn_epochs
        return n_steps * step + (n_train + 3 * n_test) / 1000 * forward

    return {
        "train_step_128_s": step,
        "forward_1000_s": forward,
        "cnn_epochs": cnn_epochs,
        "estimated_mnist_trial_s": trial_cost(3000, 10000),
        "estimated_digits_trial_s": trial_cost(755, 540),
    }


def _label(row):
    """The estimator, with ``+recipe`` for a recipe other than ``plain``.

    A network trained for other epochs than the estimator's default (``--epochs``)
    is another row: ``"openmax-compact-cnn+step (60 epochs)"``.
    """
    recipe = row.get("recipe", "plain")
    label = row["estimator"] if recipe == "plain" else f"{row['estimator']}+{recipe}"
    epochs = row.get("network_epochs")
    if epochs is not None and epochs != DEFAULT_NETWORK_EPOCHS:
        label += f" ({epochs} epochs)"
    return label


def _unsuffixed(label):
    """``label`` without its ``" (N epochs)"`` suffix, and N (None without one)."""
    base, _, epochs = label.partition(" (")
    return base, int(epochs.split()[0]) if epochs else None


def _key(row):
    return f"{row['dataset']}/{_label(row)}"


def _order(row):
    return (
        ("mnist", "digits").index(row["dataset"]),
        ESTIMATORS.index(row["estimator"]),
        RECIPES.index(row.get("recipe", "plain")),
        row["trial"],
    )


def load_results(path):
    """The results of ``path`` (JSON), an empty set if absent.

    A file written before runs were merged (one run at the top level) becomes
    a list of one run; its rows get ``recipe="plain"``.
    """
    path = Path(path)
    if not path.exists():
        return {"runs": [], "rows": [], "epsilon_rows": []}
    results = json.loads(path.read_text())
    for row in results["rows"] + results["epsilon_rows"]:
        row.setdefault("recipe", "plain")
    if "runs" not in results:
        run = {
            key: results[key]
            for key in (
                "command",
                "date",
                "machine",
                "wall_time_s",
                "args",
                "failures",
                "notes",
                "cnn_cost_probe",
            )
        }
        run["produced"] = list(dict.fromkeys(_key(r) for r in results["rows"]))
        run["finished"] = True
        results = {
            "runs": [run],
            "rows": results["rows"],
            "epsilon_rows": results["epsilon_rows"],
        }
    return results


def merge_results(old, run, rows, eps_rows):
    """``old`` with the rows of ``run`` replacing those of the same keys.

    The earlier runs keep the keys (dataset/estimator+recipe) that no later
    run made again; a run left with none is dropped.
    """
    produced = set(run["produced"])
    runs = []
    for earlier in old["runs"]:
        earlier = dict(earlier)
        earlier["produced"] = [k for k in earlier["produced"] if k not in produced]
        earlier["failures"] = [
            f
            for f in earlier.get("failures", [])
            if _key({**f, "recipe": f.get("recipe", "plain")}) not in produced
        ]
        if earlier["produced"] or earlier["failures"]:
            runs.append(earlier)
    runs.append(run)
    all_rows = sorted(
        [r for r in old["rows"] if _key(r) not in produced] + rows, key=_order
    )
    all_eps = sorted(
        [r for r in old["epsilon_rows"] if _key(r) not in produced] + eps_rows,
        key=_order,
    )
    return {
        "runs": runs,
        "published_mnist_auroc": PUBLISHED_MNIST_AUROC,
        **summaries(all_rows, all_eps),
        "rows": all_rows,
        "epsilon_rows": all_eps,
    }


def summaries(rows, eps_rows):
    """Mean and std per dataset and estimator (+recipe) of every table."""
    datasets = [d for d in ("mnist", "digits") if any(r["dataset"] == d for r in rows)]
    summary, same_network_msp, eps_summary = {}, {}, {}
    for dataset in datasets:
        mine = [{**r, "estimator": _label(r)} for r in rows if r["dataset"] == dataset]
        summary[dataset] = summarize(mine)
        for name in summary[dataset]:
            summary[dataset][name]["n_trials"] = sum(
                r["estimator"] == name for r in mine
            )
        for name in summary[dataset]:
            values = [
                (r["auroc"], r["auroc_same_network_msp"])
                for r in mine
                if r["estimator"] == name and "auroc_same_network_msp" in r
            ]
            if values:
                openmax, msp = np.array(values).T
                same_network_msp.setdefault(dataset, {})[name] = {
                    "openmax": (float(openmax.mean()), float(openmax.std())),
                    "msp": (float(msp.mean()), float(msp.std())),
                }
                # Neal et al.'s scores, in the rows made since they were added.
                members = [r for r in mine if r["estimator"] == name]
                for key, column in (
                    ("neal", "auroc_neal"),
                    ("logsumexp", "auroc_same_network_logsumexp"),
                ):
                    if members and all(column in r for r in members):
                        values = np.array([r[column] for r in members])
                        same_network_msp[dataset][name][key] = (
                            float(values.mean()),
                            float(values.std()),
                        )
        mine_eps = [r for r in eps_rows if r["dataset"] == dataset]
        for name in dict.fromkeys(_label(r) for r in mine_eps):
            mine = [r["epsilon"] for r in mine_eps if _label(r) == name]
            keys = dict.fromkeys(k for m in mine for k in m)
            eps_summary.setdefault(dataset, {})[name] = {
                key: {
                    "macro_f1": (
                        float(np.mean([m[key]["macro_f1"] for m in mine if key in m])),
                        float(np.std([m[key]["macro_f1"] for m in mine if key in m])),
                    ),
                    "rejected_fraction": float(
                        np.mean([m[key]["rejected_fraction"] for m in mine if key in m])
                    ),
                }
                for key in keys
            }
    return {
        "summary": summary,
        "epsilon_summary": eps_summary,
        "same_network_msp": same_network_msp,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["mnist", "digits"],
        choices=["mnist", "digits"],
    )
    parser.add_argument(
        "--estimators",
        nargs="+",
        default=None,
        choices=ESTIMATORS,
        help=(
            "default: all but openmax-compact-cnn and openmax-cnn, which are "
            "opt-in (on 2 CPU cores they do not fit the default run's time budget; "
            "the default run times classifier32 and says so in the notes)"
        ),
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        default="plain",
        help=(
            "training recipe of the CNNs (the other estimators are plain): "
            "'plain' (the estimator's default training on pixels in [0, 1]) or "
            "'reference' (the CAC reference code's random resized crops, "
            "standardization and SGD with weight decay 5e-6, lr 0.01) or 'step' "
            "(the reference recipe with CACClassifier's step schedule, lr 0.01 "
            "then 0.001 after half the epochs: the training of the CAC "
            "benchmark's cross-entropy baseline)"
        ),
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device of the networks, e.g. 'cuda' (see benchmarks/GPU.md)",
    )
    parser.add_argument(
        "--trials",
        type=int,
        nargs="+",
        default=[0, 1, 2, 3, 4],
        help="trial indices 0..4",
    )
    parser.add_argument(
        "--cnn-epochs", type=int, default=10, help="max_epochs of the classifier32 CNN"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=(
            "max_epochs of the MLP and the small and compact CNNs (default: the "
            f"estimator's, {DEFAULT_NETWORK_EPOCHS}); other values make other rows"
        ),
    )
    parser.add_argument(
        "--cnn-trials",
        type=int,
        nargs="+",
        default=None,
        help="trials on which the CNN runs (default: all of --trials); it is the slow one",
    )
    parser.add_argument(
        "--epsilon", type=float, nargs="+", default=[0.0, 0.5, 0.7, 0.9]
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--data-home", default=None)
    parser.add_argument(
        "--no-merge",
        action="store_true",
        help="replace the results file instead of merging this run's rows into it",
    )
    add_output_arguments(parser, HERE / "results_quality")
    args = parser.parse_args(argv)
    if args.render_only:
        results = load_results(args.render_only)
        results["published_mnist_auroc"] = PUBLISHED_MNIST_AUROC
        results.update(summaries(results["rows"], results["epsilon_rows"]))
        markdown = render_markdown(results)
        Path(args.render_only).with_suffix(".md").write_text(markdown)
        print(markdown)
        return
    probe = args.estimators is None
    if probe:
        args.estimators = [name for name in ESTIMATORS if name not in OPT_IN]
    torch.set_num_threads(args.threads)
    cnn_trials = args.trials if args.cnn_trials is None else args.cnn_trials
    wall_start = time.perf_counter()
    out = Path(args.output)
    old = (
        {"runs": [], "rows": [], "epsilon_rows": []}
        if args.no_merge
        else load_results(out.with_suffix(".json"))
    )

    rows, eps_rows, failures, notes = [], [], [], []
    cnn_probe = None
    if probe and "openmax-cnn" not in args.estimators:
        cnn_probe = cnn_cost_probe(args.cnn_epochs)
        notes.append(
            "The classifier32 CNN (`openmax-cnn`) was not run: on this machine one "
            f"training step of 128 images takes {cnn_probe['train_step_128_s']:.2f} s and "
            f"a forward pass of 1000 images {cnn_probe['forward_1000_s']:.2f} s "
            f"(measured in this run, {args.threads} torch thread(s)), so one trial with "
            f"max_epochs={args.cnn_epochs} would take about "
            f"{cnn_probe['estimated_mnist_trial_s'] / 60:.0f} min on MNIST and "
            f"{cnn_probe['estimated_digits_trial_s'] / 60:.1f} min on digits, "
            "beyond the ~15-minute budget of this benchmark for 5 trials. Run it with "
            "`--estimators openmax-cnn --cnn-epochs N` (and `--cnn-trials`) on a "
            "bigger machine."
        )
        print(notes[-1], file=sys.stderr, flush=True)

    def save(finished):
        run = {
            **run_record(wall_start),
            "args": vars(args) | {"cnn_trials": cnn_trials, "output": relative(out)},
            "finished": finished,
            "produced": list(dict.fromkeys(_key(r) for r in rows)),
            "failures": failures,
            "notes": notes,
            "cnn_cost_probe": cnn_probe,
        }
        results = merge_results(old, run, rows, eps_rows)
        out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
        markdown = render_markdown(results)
        out.with_suffix(".md").write_text(markdown)
        return markdown

    for dataset in args.datasets:
        for trial in args.trials:
            data = load_trial(dataset, trial, args.data_home)
            for name in args.estimators:
                if name == "openmax-cnn" and trial not in cnn_trials:
                    continue
                recipe = args.recipe if name in IMAGE_ESTIMATORS else "plain"
                # Rows of networks trained for --epochs carry them (and so a label).
                tag = {"recipe": recipe}
                if args.epochs is not None and name in EPOCHS_ESTIMATORS:
                    tag["network_epochs"] = args.epochs
                label = _label({"estimator": name, **tag})
                X_train, X_test = (
                    (data["img_train"], data["img_test"])
                    if name in IMAGE_ESTIMATORS
                    else (data["X_train"], data["X_test"])
                )
                estimator = make_estimator(
                    name,
                    trial,
                    args.cnn_epochs,
                    side=data["img_train"].shape[-1],
                    n_classes=len(data["known"]),
                    recipe=recipe,
                    img_train=data["img_train"],
                    device=args.device,
                    epochs=args.epochs,
                )
                start = time.perf_counter()
                try:
                    result = evaluate_estimator(
                        estimator, X_train, data["y_train"], X_test, data["y_test"]
                    )
                except ValueError as exc:  # e.g. an under-trained network
                    failures.append(
                        {
                            "dataset": dataset,
                            "trial": trial,
                            "estimator": name,
                            **tag,
                            "error": f"{type(exc).__name__}: {exc}",
                            "seconds": time.perf_counter() - start,
                        }
                    )
                    print(f"FAILED {failures[-1]}", file=sys.stderr, flush=True)
                    continue
                row = {
                    "dataset": dataset,
                    "trial": trial,
                    "estimator": name,
                    **tag,
                    "device": str(args.device),
                    "known_classes": data["known"],
                    "n_train": len(X_train),
                    "n_test": len(X_test),
                    "n_test_unknown": int(np.sum(data["y_test"] == -1)),
                    **result,
                }
                if getattr(estimator, "net_", None) is not None:
                    row["max_epochs"] = estimator.max_epochs
                    row["epoch_time"] = float(
                        np.median(estimator.net_.history[:, "dur"])
                    )
                if isinstance(estimator, OpenMaxClassifier):
                    row["n_correct_per_class"] = estimator.n_correct_per_class_.tolist()
                    row["auroc_same_network_msp"] = same_network_msp_auroc(
                        estimator, X_test, data["y_test"]
                    )
                    row.update(
                        neal_scores_aurocs(
                            estimator, X_train, data["y_train"], X_test, data["y_test"]
                        )
                    )
                    eps = epsilon_macro_f1(
                        estimator, X_test, data["y_test"], args.epsilon
                    )
                    eps_rows.append(
                        {
                            "dataset": dataset,
                            "trial": trial,
                            "estimator": name,
                            **tag,
                            "epsilon": eps,
                        }
                    )
                rows.append(row)
                msp = row.get("auroc_same_network_msp")
                print(
                    f"[{time.perf_counter() - wall_start:6.0f} s] {dataset} trial {trial} {label}: "
                    f"AUROC {result['auroc']:.4f} macro-F1 {result['macro_f1']:.4f} "
                    f"closed {result['closed_accuracy']:.4f} F1-open {result['f1_open']:.4f} "
                    + ("" if msp is None else f"MSP AUROC {msp:.4f} ")
                    + f"(fit {result['fit_time']:.1f} s, predict {result['predict_time']:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            # After every trial: an interrupted run leaves what it finished.
            save(finished=False)
    print(save(finished=True))


def _cell(mean_std, metric):
    mean, std = mean_std
    digits = 2 if metric.endswith("time") else 4
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


DESCRIPTIONS = {
    "openmax-mlp": "`OpenMaxClassifier()` (default MLP 256-128, 30 epochs) on flat pixels",
    "openmax-small-cnn": "`OpenMaxClassifier(module=small_cnn)`, the CAC benchmark's LeNet-style CNN (`benchmarks/_common.py`), 30 epochs of Adam (lr 1e-3), on images",
    "openmax-small-cnn+reference": "the same small CNN and 30 epochs, trained with the CAC reference code's MNIST recipe (`--recipe reference`, see below): random resized crops (train mode only), standardized pixels, SGD (momentum 0.9, weight decay 5e-6, constant lr 0.01)",
    "openmax-compact-cnn": "`OpenMaxClassifier(module=compact_cnn)`, the CAC benchmark's CPU-sized CNN in classifier32's style (`benchmarks/_common.py`: 3x3 convolutions 32-32 / 64-64 / 128 with BatchNorm and LeakyReLU 0.2, global max pooling; about 7x cheaper than classifier32), 30 epochs of Adam (lr 1e-3), on images",
    "openmax-compact-cnn+reference": "the same compact CNN and 30 epochs, trained with the reference recipe, as `openmax-small-cnn+reference`",
    "openmax-compact-cnn+step": "the same compact CNN and 30 epochs, trained with the reference recipe but CACClassifier's step schedule (`--recipe step`: lr 0.01, then 0.001 after 15 epochs), i.e. as the CAC benchmark's cross-entropy baseline (`ce-msp`) is trained",
    "openmax-cnn": "`OpenMaxClassifier(max_epochs={e})` (default classifier32 CNN) on images",
    "openmax-lr": "`OpenMaxClassifier(LogisticRegression(max_iter=1000))` on flat pixels",
    "msp-lr": "`MSPClassifier()` (LogisticRegression(max_iter=1000), threshold 0.5) on flat pixels",
}


def _description(label, cnn_epochs):
    base, epochs = _unsuffixed(label)
    text = DESCRIPTIONS[base].format(e=cnn_epochs)
    if epochs is not None:
        text += (
            f"; this row: {epochs} epochs instead of {DEFAULT_NETWORK_EPOCHS} "
            f"(`--epochs {epochs}`; with the step recipe the lr drops after "
            f"{(epochs + 1) // 2})"
        )
    return text


NETWORKS = {"openmax-small-cnn": "small CNN", "openmax-compact-cnn": "compact CNN"}


def _headline(r):
    """The MNIST CNN rows against the same network's MSP and the paper."""
    mnist = r["summary"].get("mnist", {})
    msp = r.get("same_network_msp", {}).get("mnist", {})
    order = [
        f"{network}{suffix}"
        for network in NETWORKS
        for suffix in ("", "+reference", "+step")
    ]
    names = sorted(
        (name for name in mnist if _unsuffixed(name)[0] in order),
        key=lambda name: (order.index(_unsuffixed(name)[0]), name),
    )
    if not names:
        return []
    lines = ["## Headline (MNIST, CNNs)\n"]
    for name in names:
        s = mnist[name]
        base, epochs = _unsuffixed(name)
        network, _, recipe = base.partition("+")
        line = (
            f"- {NETWORKS[network]}, {recipe or 'plain'} recipe ({s['n_trials']} "
            f"trials, {epochs or DEFAULT_NETWORK_EPOCHS} epochs): OpenMax AUROC "
            f"{_cell(s['auroc'], 'auroc')}, macro-F1 {_cell(s['macro_f1'], 'macro_f1')}, "
            f"closed-set accuracy {_cell(s['closed_accuracy'], 'closed_accuracy')}"
        )
        if name in msp:
            line += (
                f"; maximum softmax probability of the same network: AUROC "
                f"{_cell(msp[name]['msp'], 'auroc')} (OpenMax minus MSP "
                f"{msp[name]['openmax'][0] - msp[name]['msp'][0]:+.4f})"
            )
        lines.append(line + ".")
    plain, ref = "openmax-small-cnn", "openmax-small-cnn+reference"
    if plain in mnist and ref in mnist:
        line = (
            "- small CNN, reference minus plain recipe: OpenMax AUROC "
            f"{mnist[ref]['auroc'][0] - mnist[plain]['auroc'][0]:+.4f}, closed-set "
            "accuracy "
            f"{mnist[ref]['closed_accuracy'][0] - mnist[plain]['closed_accuracy'][0]:+.4f}"
        )
        if plain in msp and ref in msp:
            line += (
                ", MSP AUROC of the same network "
                f"{msp[ref]['msp'][0] - msp[plain]['msp'][0]:+.4f}"
            )
        lines.append(line + ".")
    pub = r["published_mnist_auroc"]
    lines.append(
        f"- published (CAC paper Table 2; classifier32 trained on the full 60k MNIST "
        f"training set on a GPU): OpenMax AUROC {pub['OpenMax']:.3f}, Softmax "
        f"{pub['Softmax']:.3f}.\n"
    )
    if any(_unsuffixed(name)[0].endswith("+reference") for name in names):
        lines.append(
            "**Reference recipe** (`--recipe reference`, the `+reference` "
            "rows): the CNN of the plain rows, trained as the CAC reference code "
            "trains its closed-set cross-entropy classifier on MNIST (`train_closedSet.py` "
            "with the MNIST `closedset_training` configuration), through the CAC "
            "benchmark's implementation of the recipe (`_common.reference_recipe`, "
            "`_common.SGDWeightDecay`, imported, not copied): each training batch goes "
            "through random resized crops (70-100% of the image area, aspect ratio 3/4 "
            "to 4/3, resampled to 28x28; a layer active in train mode only, so the "
            "activation vectors of the Weibull fit and of prediction come from the plain "
            "images), pixels standardized by the mean and standard deviation of the "
            "trial's training images, SGD with momentum 0.9, weight decay 5e-6 and a "
            "constant lr 0.01. Epochs (30), batch size (128), seeds and the OpenMax "
            "parameters are those of the plain rows, which train with Adam at lr 1e-3. "
            "Not the reference code: 30 epochs instead of 35, the 5k subset instead of "
            "the 60k training set, no validation split (the reference code keeps the "
            "epoch of best validation accuracy), the small or compact CNN instead of "
            "classifier32. "
            "The CAC benchmark's `ce-msp` reference rows (`benchmarks/cac/results_quality.md`) "
            "train the same networks with the same recipe but CACClassifier's step "
            "schedule (lr 0.01, then 0.001 after 15 epochs), so their MSP AUROC is of "
            "differently trained networks.\n"
        )
    if any(_unsuffixed(name)[0].endswith("+step") for name in names):
        lines.append(
            "**Step recipe** (`--recipe step`, the `+step` rows): the reference "
            "recipe with CACClassifier's step schedule, lr 0.01 for the first half "
            "of the 30 epochs and 0.001 for the second (`_cac._step_lr_schedule`, "
            "the schedule of the CAC paper's training): the network is trained as "
            "the CAC benchmark's cross-entropy baseline (`ce-msp`) of the same "
            "backbone, so OpenMax, that softmax baseline and CAC compare on one "
            "training recipe, as the CAC paper's Table 2 compares them.\n"
        )
    return lines


def render_markdown(r):
    lines = []
    add = lines.append
    runs = []
    cnn_epochs = None
    for index, run in enumerate(r["runs"], 1):
        a = run["args"]
        if any(k.endswith("/openmax-cnn") for k in run["produced"]):
            cnn_epochs = a["cnn_epochs"]
        cnn = (
            f"; the CNN ran on trials {a['cnn_trials']} with max_epochs={a['cnn_epochs']}"
            if "openmax-cnn" in a["estimators"]
            else ""
        )
        status = "" if run.get("finished", True) else " (partial: interrupted)"
        produced = ", ".join(f"`{k}`" for k in run["produced"])
        note = (
            f"recipe of the CNNs `{a.get('recipe', 'plain')}`; trials {a['trials']} "
            f"= `CAC_MNIST_KNOWN_CLASSES[trial]`, `random_state=trial`{cnn}"
        )
        runs.append((f"run {index}{status}, rows {produced}", run, note))
    lines += results_header(
        "OpenMax quality: CAC-paper protocol on MNIST and scikit-learn digits",
        "benchmarks/openmax/bench_quality.py",
        runs,
        raw="results_quality.json",
        about="its docstring gives the protocol; one row per fit",
    )
    add(
        "Each run replaces the rows of the estimators it ran and keeps the others, "
        "with the run that made them. "
        "The machine is shared with other work running at the same time: fit and "
        "predict times are noisy; the classifier32 CNN (`openmax-cnn`) was not run "
        "unless a run says so (see Notes).\n"
    )
    add(
        "Protocol: 6 known / 4 unknown digits. MNIST: train on the known digits of the 5k "
        "training subset (about 3000 images), test on the full 10k test set (unknown digits "
        "-> -1). Digits: 70/30 stratified split per trial (seed = trial). Pixels scaled to "
        "[0, 1]. Metrics from `evaluate_estimator`: AUROC (unknown positive, score = "
        "-score_samples), macro-F1 over the 6 known classes + open, closed-set accuracy, "
        "F1-open, accuracy over C+1; predict time = predict + score_samples + predict_proba "
        "on the test set. Mean ± std over the trials (numpy std, ddof=0).\n"
    )
    add("Estimators:\n")
    names = dict.fromkeys(n for summary in r["summary"].values() for n in summary)
    for name in sorted(
        names,
        key=lambda n: (ESTIMATORS.index(_unsuffixed(n)[0].split("+")[0]), n),
    ):
        add(f"- **{name}**: {_description(name, cnn_epochs)}")
    add("")
    lines += _headline(r)
    cols = METRICS
    for dataset, summary in r["summary"].items():
        add(f"## {dataset}\n")
        add("| estimator | trials | " + " | ".join(HEADERS[c] for c in cols) + " |")
        add("|---|---|" + "---|" * len(cols))
        for name, metrics in summary.items():
            add(
                f"| {name} | {metrics['n_trials']} | "
                + " | ".join(_cell(metrics[c], c) for c in cols)
                + " |"
            )
        if dataset == "mnist":
            add(
                "\nThe published rows are for comparison only: they use the classifier32 "
                "CNN trained on the full 60k MNIST training set; the rows above use "
                "a small CNN, an MLP or a linear model, and about 3000 training "
                "images (the known digits of the 5k subset).\n"
            )
            add("| estimator | trials | " + " | ".join(HEADERS[c] for c in cols) + " |")
            add("|---|---|" + "---|" * len(cols))
            pub = r["published_mnist_auroc"]
            add(
                f"| published OpenMax (CAC paper Table 2, classifier32, full 60k training set) | 5 | "
                f"{pub['OpenMax']:.3f} |" + " - |" * (len(cols) - 1)
            )
            add(
                f"| published Softmax (same table) | 5 | {pub['Softmax']:.3f} |"
                + " - |" * (len(cols) - 1)
            )
        add("")
    if r.get("same_network_msp"):
        add("## OpenMax against the maximum softmax probability of the same network\n")
        add(
            "AUROC of OpenMax's score and of the maximum softmax probability of the "
            "activations OpenMax recalibrates (the same fitted network or estimator, "
            "only the score differs: the paper's Softmax baseline).\n"
        )
        add(
            "The last two columns are the scores of the evaluation code of Neal et "
            "al. (ECCV 2018), from which the published OpenMax and Softmax AUROCs "
            "that the CAC paper quotes come: OpenMax as "
            '`OpenMaxClassifier(known_score="logsumexp", distance="euclidean")` '
            "(the log-sum-exp of the activations, each damped by its class's "
            "W-score, no alpha ranking), fitted on the same activations, and their "
            "softmax baseline, the log-sum-exp of the activations (the unknown "
            "probability of the activations and an implicit 0 logit). `-`: rows "
            "made before these columns were added.\n"
        )
        add(
            "| dataset | estimator | AUROC OpenMax | AUROC MSP, same network | "
            "AUROC OpenMax, Neal et al.'s score | AUROC log-sum-exp, same network |"
        )
        add("|---|---|---|---|---|---|")
        for dataset, by_name in r["same_network_msp"].items():
            for name, cell in by_name.items():
                neal, lse = (
                    _cell(cell[key], "auroc") if key in cell else "-"
                    for key in ("neal", "logsumexp")
                )
                add(
                    f"| {dataset} | {name} | {_cell(cell['openmax'], 'auroc')} | "
                    f"{_cell(cell['msp'], 'auroc')} | {neal} | {lse} |"
                )
        add("")
    failures = [f for run in r["runs"] for f in run.get("failures", [])]
    if failures:
        add("## Failed runs\n")
        for f in failures:
            add(f"- {f['dataset']} trial {f['trial']} {_label(f)}: {f['error']}")
        add("")
    notes = [
        (index, note)
        for index, run in enumerate(r["runs"], 1)
        for note in run.get("notes", [])
    ]
    if notes:
        add("## Notes\n")
        for index, note in notes:
            add(f"- run {index}: {note}")
        add("")
    if r["epsilon_summary"]:
        add(
            "## Macro-F1 of OpenMax by rejection threshold epsilon (information only)\n"
        )
        add(
            "epsilon 0 is the library default (reject only when the unknown class wins); a "
            "larger epsilon also rejects when the top OpenMax probability is below it. Same "
            "fitted models as above; nothing here is tuned on test data. In parentheses: the "
            "fraction of test samples rejected (the true unknown fraction is about 0.4).\n"
        )
        eps_keys = sorted(
            {
                k
                for per in r["epsilon_summary"].values()
                for v in per.values()
                for k in v
            },
            key=float,
        )
        add(
            "| dataset | estimator | "
            + " | ".join(f"eps = {k}" for k in eps_keys)
            + " |"
        )
        add("|---|---|" + "---|" * len(eps_keys))
        for dataset, per in r["epsilon_summary"].items():
            for name, values in per.items():
                add(
                    f"| {dataset} | {name} | "
                    + " | ".join(
                        f"{values[k]['macro_f1'][0]:.4f} ± {values[k]['macro_f1'][1]:.4f} "
                        f"({values[k]['rejected_fraction']:.2f})"
                        if k in values
                        else "-"
                        for k in eps_keys
                    )
                    + " |"
                )
        add("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
