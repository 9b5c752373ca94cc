"""Cross-validation for open-set classifiers.

:class:`PseudoOpenSetSplit` tunes an open-set classifier on known classes
only, by hiding a random part of them as pseudo unknowns in each split.
"""

from ._split import PseudoOpenSetSplit

__all__ = ["PseudoOpenSetSplit"]
