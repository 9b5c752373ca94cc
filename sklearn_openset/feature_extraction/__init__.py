"""Feature extractors: sentence embeddings for the open-set classifiers.

:class:`TextEmbedder` turns texts into vectors with a transformers encoder
(the offline all-MiniLM-L6-v2 of the ``text`` extra by default), optionally
fine-tuned on the known classes; :func:`embed_texts_cached` stores the
embeddings of a frozen encoder on disk.
"""

from ._cache import CACHE_ENV, embed_texts_cached, get_cache_home
from ._text import TextEmbedder, default_model_path

__all__ = [
    "CACHE_ENV",
    "TextEmbedder",
    "default_model_path",
    "embed_texts_cached",
    "get_cache_home",
]
