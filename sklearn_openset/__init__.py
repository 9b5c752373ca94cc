"""Open-set recognition for scikit-learn.

A classifier trained on known classes that says "unknown" (``open_label``,
default ``-1``) for inputs of classes it never saw.
"""

from ._ans import ANSOneVsRestClassifier
from ._cac import CACClassifier
from ._crosr import CROSRClassifier
from ._msp import MSPClassifier
from ._openmax import OpenMaxClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "ANSOneVsRestClassifier",
    "CACClassifier",
    "CROSRClassifier",
    "MSPClassifier",
    "OpenMaxClassifier",
    "__version__",
]
