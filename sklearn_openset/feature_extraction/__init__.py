"""Feature extractors: sentence embeddings for the open-set classifiers.

:class:`TextEmbedder` turns texts into vectors with a transformers encoder
(the offline all-MiniLM-L6-v2 of the ``text`` extra by default), optionally
fine-tuned on the known classes. To embed once and reuse, cache the
embedder's step of a pipeline (``Pipeline(memory=...)``).
"""

from ._text import TextEmbedder, default_model_path

__all__ = [
    "TextEmbedder",
    "default_model_path",
]
