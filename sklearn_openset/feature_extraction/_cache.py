"""On-disk cache of text embeddings, keyed by the model and the texts."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["CACHE_ENV", "embed_texts_cached", "get_cache_home"]

#: Name of the environment variable that points to the cache folder.
CACHE_ENV = "SKLEARN_OPENSET_CACHE"


def get_cache_home(cache_home=None):
    """Return the folder of the embedding cache.

    In order of precedence: ``cache_home``, the environment variable
    ``SKLEARN_OPENSET_CACHE``, ``~/.cache/sklearn_openset``. The folder is
    created when it does not exist.

    Parameters
    ----------
    cache_home : str or path-like, default=None
        Explicit cache folder. ``~`` is expanded.

    Returns
    -------
    cache_home : pathlib.Path

    Examples
    --------
    >>> from sklearn_openset.feature_extraction import get_cache_home
    >>> get_cache_home("/tmp/openset-cache").name
    'openset-cache'
    """
    if cache_home is None:
        cache_home = os.environ.get(CACHE_ENV) or "~/.cache/sklearn_openset"
    path = Path(cache_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_key(embedder, texts):
    texts_hash = hashlib.sha256()
    for text in texts:
        texts_hash.update(text.encode("utf-8"))
        texts_hash.update(b"\0")
    description = {
        "model": str(Path(embedder.model_path_).expanduser().resolve())
        if Path(str(embedder.model_path_)).expanduser().exists()
        else str(embedder.model_path_),
        "pooling": embedder.pooling,
        "normalize": bool(embedder.normalize),
        "max_length": embedder._max_length(),
        "n_texts": len(texts),
        "texts_sha256": texts_hash.hexdigest(),
    }
    key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
    return key[:16], description


def embed_texts_cached(embedder, texts, *, name, cache_home=None):
    """Embed ``texts`` with a fitted, frozen embedder, reading the cache first.

    The embeddings are stored as ``<cache>/embeddings/<name>-<key>.npy`` with
    a JSON description beside them; the key hashes the model path, the
    pooling, the normalisation, the maximum length and the texts themselves,
    so any change makes a new entry.

    Parameters
    ----------
    embedder : TextEmbedder
        Fitted, not fine-tuned (the cache cannot see the weights).
    texts : list of str
    name : str
        Readable part of the file name, e.g. ``"clinc150-train"``.
    cache_home : str or path-like, default=None
        See :func:`get_cache_home`.

    Returns
    -------
    embeddings : ndarray of shape (len(texts), n_features_out), float32
    """
    check_is_fitted(embedder)
    if embedder.fine_tuned_:
        raise ValueError(
            "embed_texts_cached keys the cache by the model path; a fine-tuned "
            "embedder (fine_tune_epochs > 0) has other weights. Embed with "
            "transform instead."
        )
    texts = list(texts)
    key, description = _cache_key(embedder, texts)
    folder = get_cache_home(cache_home) / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{key}.npy"
    if path.is_file():
        return np.load(path)
    embeddings = embedder.transform(texts)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(partial, embeddings)
    os.replace(partial, path)
    path.with_suffix(".json").write_text(json.dumps(description, indent=2))
    return embeddings
