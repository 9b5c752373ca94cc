"""Cross-validation for open-set classifiers.

:class:`PseudoOpenSetSplit` tunes an open-set classifier on known classes
only, by hiding a random part of them as pseudo unknowns in each split;
:class:`TunedOpenSetThresholdCV` uses it to choose an open-set classifier's
rejection threshold.
"""

from ._split import PseudoOpenSetSplit
from ._threshold import TunedOpenSetThresholdCV

__all__ = ["PseudoOpenSetSplit", "TunedOpenSetThresholdCV"]
