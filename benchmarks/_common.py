"""What the benchmark scripts share: run records, networks, recipes, caches.

The scripts run from the repository root (``python benchmarks/<method>/<script>.py``)
and import this module after putting ``benchmarks/`` on ``sys.path``. The
protocols themselves (splits, metrics, summaries) are the package's
(``sklearn_openset.evaluation``); this module holds what only the benchmarks
need:

* run records: :func:`run_record` (command, date, machine, wall time of a
  run, as every results JSON keeps them) and :func:`results_header`, the
  opening lines of every results markdown file;
* the image networks and the CAC reference code's training recipe
  (:func:`small_cnn`, :func:`compact_cnn`, :func:`reference_recipe`,
  :class:`SGDWeightDecay`), the cross-entropy baseline on the deep base
  (:class:`CrossEntropyMSP`) and the scores of a trained network's logits
  (:func:`activation_scores_aurocs`);
* sentence embeddings computed once and kept under
  ``sklearn_openset.evaluation.get_cache_home() / "benchmarks"``
  (:func:`frozen_embeddings`, :func:`fine_tuned_embeddings`).
"""

import datetime
import json
import os
import platform
import shlex
import sys
import time
from numbers import Real
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy
import sklearn
import torch
from scipy.special import logsumexp
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn
from torch.nn import functional as F

import sklearn_openset
from sklearn_openset import OpenMaxClassifier
from sklearn_openset.base import BaseDeepOpenSetClassifier
from sklearn_openset.evaluation import get_cache_home
from sklearn_openset.metrics import unknown_roc_auc_score
from sklearn_openset.nn import MLP, Classifier32

#: The repository root: commands and paths of the records are relative to it.
ROOT = Path(__file__).resolve().parents[1]

# The benchmark data: ``$SKLEARN_OPENSET_DATA`` when set, else ``../shared/data``
# beside the checkout when it exists (the library itself never looks there).
if (ROOT.parent / "shared" / "data").is_dir():
    os.environ.setdefault("SKLEARN_OPENSET_DATA", str(ROOT.parent / "shared" / "data"))


# -- run records ----------------------------------------------------------------
def relative(path):
    """``path`` relative to the repository root when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def command(argv=None):
    """The command line of this run, as typed from the repository root.

    The script and any absolute path inside the repository are written
    relative to the root, so that no record names the machine's folders.
    """
    argv = list(sys.argv if argv is None else argv)
    words = [relative(argv[0])]
    words += [relative(a) if os.path.isabs(a) else a for a in argv[1:]]
    return "python " + shlex.join(words)


def machine(**extra):
    """One line: platform, CPU, cores, and the versions the numbers depend on.

    ``extra``: more ``name=version`` pairs (e.g. a library compared against).
    """
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip() for line in f if "model name" in line
            )
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    versions = {
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": f"{torch.__version__} ({torch.get_num_threads()} threads)",
        **extra,
        "sklearn_openset": sklearn_openset.__version__,
    }
    return f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs; " + ", ".join(
        f"{name} {version}" for name, version in versions.items()
    )


def run_record(start, argv=None, **extra_versions):
    """``{"command", "date", "machine", "wall_time_s"}`` of a run begun at ``start``.

    ``start``: :func:`time.perf_counter` at the start of the run; the date is
    now (UTC). Every results JSON keeps its runs in this form.
    """
    return {
        "command": command(argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(**extra_versions),
        "wall_time_s": time.perf_counter() - start,
    }


def add_output_arguments(parser, default):
    """``--output`` (results path without suffix, ``default``) and ``--render-only``."""
    parser.add_argument(
        "--output", default=str(default), help="results path, without suffix"
    )
    parser.add_argument(
        "--render-only",
        metavar="JSON",
        default=None,
        help="only rewrite the markdown from a results JSON of an earlier run",
    )


def add_run_arguments(parser, seeds):
    """``--seeds`` (default ``seeds``), ``--threads`` (torch, default 1), ``--data-home``."""
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-home", default=None)


def render_only(args, render):
    """With ``--render-only JSON``: rewrite the markdown beside ``--output``.

    ``render`` turns the JSON's content into the markdown text. Returns
    whether it did (the script then stops).
    """
    if not args.render_only:
        return False
    results = json.loads(Path(args.render_only).read_text())
    Path(args.output).with_suffix(".md").write_text(render(results))
    return True


def earlier_results(output, redone):
    """What an earlier run left at ``output`` (results path without suffix).

    ``redone(row)`` says whether this run makes a row again. Returns ``(kept,
    runs, notes)``: the earlier rows it does not redo, the earlier run
    records and the notes (``([], [], None)`` without an earlier file), for
    the scripts' ``--merge``.
    """
    path = Path(output).with_suffix(".json")
    if not path.exists():
        return [], [], None
    earlier = json.loads(path.read_text())
    kept = [row for row in earlier["rows"] if not redone(row)]
    return kept, earlier["runs"], earlier.get("notes")


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def describe_run(record, label=None, note=None):
    """One markdown list item: the run's command, date, wall time and machine."""
    date = record["date"][:16].replace("T", " ")
    parts = [f"`{record['command']}`", f"{date} UTC"]
    parts.append(f"wall time {_duration(record['wall_time_s'])}")
    if note:
        parts.append(note)
    parts.append(record["machine"])
    return "- " + (f"**{label}**: " if label else "") + "; ".join(parts)


def results_header(title, script, runs, *, raw=None, about=None):
    """The opening lines of every results file: title, script, runs.

    ``runs``: records of :func:`run_record`, or ``(label, record)`` or
    ``(label, record, note)`` tuples. ``raw``: the JSON file(s) beside it;
    ``about``: a phrase on the script (e.g. where the protocol is described).
    """
    made = f"Made by `{script}`" + (f" ({about})" if about else "")
    if raw:
        raw = [raw] if isinstance(raw, str) else raw
        made += "; raw numbers in " + ", ".join(f"`{name}`" for name in raw)
    lines = [f"# {title}", "", made + ".", ""]
    lines += ["Runs (command; date; wall time; machine):", ""]
    for run in runs:
        label, record, *note = run if isinstance(run, tuple) else (None, run)
        lines.append(describe_run(record, label, *note))
    return lines + [""]


# -- networks and the CAC reference code's recipe ---------------------------------
def small_cnn(n_classes, in_channels=1, side=28):
    """A small LeNet-style CNN (about 40x cheaper than classifier32).

    Two 3x3 convolution blocks (32 and 64 channels, BatchNorm, ReLU, 2x2 max
    pooling), dropout 0.2, a 128-unit hidden layer and one logit per class.
    """
    flat = 64 * (side // 4) * (side // 4)
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(flat, 128),
        nn.ReLU(),
        nn.Linear(128, n_classes),
    )


def compact_cnn(n_classes, in_channels=1):
    """A CPU-sized CNN built like classifier32 (about 7x cheaper on MNIST).

    Five 3x3 convolutions in three groups (32-32, 64-64, 128 channels), each
    followed by BatchNorm and LeakyReLU(0.2) as in classifier32, 2x2 max
    pooling between the groups, global max pooling of the 128 maps, dropout
    0.2 and one logit per class. About 22 million multiply-adds per 28x28
    image against classifier32's 163 million, so that five trials of two
    methods train to a plateau on two CPU cores within the hour. Any image
    side of at least 4 pixels works (the pooling is global).
    """

    def block(width_in, width_out):
        return (
            nn.Conv2d(width_in, width_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(width_out),
            nn.LeakyReLU(0.2),
        )

    return nn.Sequential(
        *block(in_channels, 32),
        *block(32, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        *block(64, 64),
        nn.MaxPool2d(2),
        *block(64, 128),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(128, n_classes),
    )


class RandomResizedCrop(nn.Module):
    """Random resized crops of an image batch in train mode; identity in eval mode.

    The training augmentation of the CAC reference code for MNIST
    (torchvision's ``RandomResizedCrop(scale=(0.7, 1.0))``, default aspect
    ratios 3/4 to 4/3), done per sample on the batch tensor: a box of a random
    share ``scale`` of the image area and aspect ratio ``ratio`` (log-uniform),
    each side at most the image's, at a random place inside the image, is
    resampled (bilinear) to the input size. Being a layer that acts only in
    train mode, it leaves prediction and the anchors (computed in eval mode)
    on the unaugmented images, as in the reference code. Draws from torch's
    global generator, which the estimators seed in ``fit``.
    """

    def __init__(self, scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3)):
        super().__init__()
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)

    def forward(self, x):
        if not self.training:
            return x
        n, kw = len(x), {"device": x.device, "dtype": x.dtype}
        area = torch.empty(n, **kw).uniform_(*self.scale)
        log_ratio = torch.empty(n, **kw).uniform_(*np.log(self.ratio))
        # Box sides as fractions of the image's (affine_grid's [-1, 1] frame).
        width = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=1.0)
        height = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=1.0)
        theta = torch.zeros(n, 2, 3, **kw)
        theta[:, 0, 0], theta[:, 1, 1] = width, height
        theta[:, 0, 2] = (torch.rand(n, **kw) * 2 - 1) * (1 - width)
        theta[:, 1, 2] = (torch.rand(n, **kw) * 2 - 1) * (1 - height)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", align_corners=False)


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed scalars (the reference code's input scaling)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x):
        return (x - self.mean) / self.std


class SGDWeightDecay(torch.optim.SGD):
    """SGD with momentum 0.9 and weight decay 5e-6: the reference code's MNIST optimizer."""

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=5e-6, **kwargs):
        super().__init__(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kwargs
        )


def reference_recipe(build, X_train, scale=(0.7, 1.0)):
    """``build`` wrapped in the reference code's input pipeline.

    A callable returning ``Sequential(RandomResizedCrop(scale), Standardize(mean,
    std), build())``, the mean and standard deviation of the training pixels
    (the reference code standardizes with those of the known-class training
    images of each trial).
    """
    mean, std = float(X_train.mean()), float(X_train.std())

    def make():
        return nn.Sequential(RandomResizedCrop(scale), Standardize(mean, std), build())

    return make


def default_backbone(input_shape, n_classes):
    """CACClassifier's default backbone, for the cross-entropy baseline."""
    if len(input_shape) == 1:
        return MLP(input_shape[0], n_classes)
    return Classifier32(n_classes, in_channels=input_shape[0], pooling="flatten")


class CrossEntropyMSP(BaseDeepOpenSetClassifier):
    """The "Softmax" baseline of the CAC paper on the same deep base as CAC.

    The same backbone (CACClassifier's default), optimizer, batches, epochs and
    learning-rate schedule as ``CACClassifier`` (``lr_schedule``: ``"step"``
    by default here, as in the tables made with it; pass ``None`` to match
    CACClassifier's default), trained with cross-entropy; the
    known-ness score is the maximum softmax probability, and
    ``threshold="auto"`` accepts 95% of the correctly classified training
    samples, as CAC's. With ``validation_fraction``, that share of the
    samples (stratified, drawn with ``random_state``) is held out of training
    and the threshold accepts 95% of its correctly classified samples, as
    CAC's; unlike CAC, the weights of the last epoch are kept (cross-entropy
    has no anchor loss to select an epoch by).

    ``_criterion`` (a class attribute, the training loss of the logits and
    the encoded labels) lets a subclass train the same network with another
    loss.
    """

    _criterion = nn.CrossEntropyLoss

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepOpenSetClassifier._parameter_constraints,
        "threshold": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "lr_schedule": [StrOptions({"step"}), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    }

    def __init__(
        self,
        module=None,
        *,
        threshold="auto",
        lr_schedule="step",
        validation_fraction=None,
        max_epochs=70,
        lr=0.01,
        batch_size=128,
        optimizer="sgd",
        device="cpu",
        callbacks=None,
        verbose=0,
        random_state=None,
        open_label=-1,
    ):
        self.module = module
        self.threshold = threshold
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        self.open_label = open_label

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        from sklearn_openset._cac import _step_lr_schedule
        from sklearn_openset._deep._training import _ArrayBatches

        X, y_encoded = self._validate_fit_data(X, y)
        n_classes = len(self.classes_)
        callbacks = self._callbacks()
        if self.lr_schedule == "step":
            callbacks.append(_step_lr_schedule(self.max_epochs))
        random_state = check_random_state(self.random_state)
        # CACClassifier's split, so the same samples for the same seed.
        train_rows, calibration_rows = self._held_out_rows(
            y_encoded, self.validation_fraction, random_state
        )
        self._fit_net(
            X[train_rows],
            y_encoded[train_rows],
            random_state=random_state,
            default_module=lambda: default_backbone(X.shape[1:], n_classes),
            criterion=self._criterion,
            callbacks=callbacks,
            iterator_train=_ArrayBatches,
        )
        if isinstance(self.threshold, str):
            proba = self.predict_proba(X[calibration_rows])
            correct = proba.argmax(axis=1) == y_encoded[calibration_rows]
            self._calibrate_threshold(proba.max(axis=1), correct)
        else:
            self._calibrate_threshold()
        return self

    def predict_proba(self, X):
        X = self._validate_predict_data(X)
        return torch.softmax(self._forward(X).double(), dim=1).numpy()

    def _open_set_parts(self, X):
        proba = self.predict_proba(X)
        return proba.argmax(axis=1), proba.max(axis=1), None


def activation_scores_aurocs(av_train, y_train, av_test, y_test):
    """AUROCs of scores computed from a trained network's activations alone.

    ``av_train`` / ``av_test``: the logits (activation vectors) of the
    training and test samples, eval mode, no augmentation; ``y_test`` has the
    unknown samples as -1. ``OpenMaxClassifier(estimator="precomputed")``
    fitted on ``av_train`` is what ``OpenMaxClassifier`` with that network as
    its module computes, without training the network a second time.

    * ``openmax_auroc``: OpenMax with its defaults (the paper's unknown
      probability, eucos distance);
    * ``openmax_neal_auroc``: ``known_score="logsumexp"`` with the euclidean
      distance, the OpenMax score of Neal et al.'s evaluation code (source of
      the published OpenMax AUROCs);
    * ``logsumexp_auroc``: that code's "softmax" score, ``P(unknown)`` of the
      logits and an implicit 0 logit, ``1 / (1 + sum exp)``, monotone in the
      log-sum-exp of the logits.
    """
    labels = np.unique(y_train)

    def auroc(known_scores):
        return unknown_roc_auc_score(y_test, known_scores, labels=labels, open_label=-1)

    aurocs = {"logsumexp_auroc": auroc(logsumexp(av_test, axis=1))}
    variants = {
        "openmax_auroc": {},
        "openmax_neal_auroc": {"known_score": "logsumexp", "distance": "euclidean"},
    }
    for name, params in variants.items():
        openmax = OpenMaxClassifier("precomputed", **params).fit(av_train, y_train)
        aurocs[name] = auroc(openmax.score_samples(av_test))
    return aurocs


# -- sentence embeddings, computed once ---------------------------------------------
def _memory():
    import joblib

    return joblib.Memory(get_cache_home() / "benchmarks", verbose=0)


def _frozen(texts, model_path):
    from sklearn_openset.feature_extraction import TextEmbedder

    return TextEmbedder(model_path).fit(texts[:1]).transform(texts)


def _fine_tuned(texts, y, other_texts, fine_tune, seed, model_path):
    from sklearn_openset.feature_extraction import TextEmbedder

    start = time.perf_counter()
    embedder = TextEmbedder(model_path, random_state=seed, **fine_tune).fit(texts, y)
    fine_tune_time = time.perf_counter() - start
    return embedder.transform(texts), embedder.transform(other_texts), fine_tune_time


def frozen_embeddings(texts, model_path=None):
    """``texts`` embedded by an encoder as shipped (default: all-MiniLM-L6-v2).

    ``model_path``: a model folder for ``TextEmbedder``; ``None``, the default
    encoder. Computed once (a ``joblib.Memory`` keyed by the texts and the
    model's folder) under ``get_cache_home() / "benchmarks"``.
    """
    from sklearn_openset.feature_extraction import default_model_path

    model_path = default_model_path() if model_path is None else str(model_path)
    return _memory().cache(_frozen)(list(texts), model_path)


def fine_tuned_embeddings(texts, y, other_texts, fine_tune, seed):
    """``texts`` and ``other_texts`` by the encoder fine-tuned on ``(texts, y)``.

    ``TextEmbedder(random_state=seed, **fine_tune).fit(texts, y)``, computed
    once as :func:`frozen_embeddings`. Returns ``(X, X_other,
    fine_tune_seconds)``, the seconds of the run that filled the cache.
    """
    from sklearn_openset.feature_extraction import default_model_path

    return _memory().cache(_fine_tuned)(
        list(texts),
        np.asarray(y),
        list(other_texts),
        dict(fine_tune),
        seed,
        default_model_path(),
    )
