"""Extreme value theory: Weibull tails and the OpenMax recalibration engine.

The shared extreme-value engine of the library (OpenMax and CROSR use it).

Public API
----------
WeibullTailFitter
    Fit one Weibull per class to the largest values of that class; score values
    with the fitted cumulative distribution functions. It reproduces, number for
    number, libMR 0.1.9's ``FitHigh`` / ``w_score`` (Scheirer et al., 2011).
fit_high
    Functional shortcut: ``fit_high(data, tail_size)`` returns a fitted
    :class:`WeibullTailFitter`.
OpenMaxRecalibration
    The recalibration of Bendale & Boult (2016): class means of the correctly
    classified training samples, a Weibull of their largest distances per class,
    and logits turned into probabilities over the known classes plus an explicit
    unknown class. Distances may be measured on features other than the logits
    (CROSR measures them on the logits and latent codes together).
"""

from . import _weibull
from ._openmax import OpenMaxRecalibration
from ._weibull import WeibullTailFitter, fit_high

#: Value returned by :meth:`WeibullTailFitter.w_score` for a class whose fit
#: failed; libMR's ``w_score`` returns the same sentinel for an invalid model.
INVALID_W_SCORE = _weibull.INVALID_W_SCORE

__all__ = [
    "INVALID_W_SCORE",
    "OpenMaxRecalibration",
    "WeibullTailFitter",
    "fit_high",
]
