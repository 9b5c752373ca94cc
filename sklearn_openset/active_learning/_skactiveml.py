"""The bridge to scikit-activeml's own tools (needs scikit-activeml)."""

from skactiveml.base import SingleAnnotatorPoolQueryStrategy

__all__ = ["SkactivemlQueryStrategy"]


class SkactivemlQueryStrategy(SingleAnnotatorPoolQueryStrategy):
    """One of this library's query strategies as a scikit-activeml strategy.

    The strategies already follow scikit-activeml's ``query`` convention and
    work in its loops as they are; its tools that check the type of the
    strategy (``skactiveml.visualization.plot_utilities``, for example) need
    them as a :class:`skactiveml.base.SingleAnnotatorPoolQueryStrategy`, which
    this wrapper is. Needs scikit-activeml (``pip install scikit-activeml``).

    Parameters
    ----------
    strategy : query strategy
        :class:`LfOSASampler` or one of the baselines. Its
        ``missing_label``, ``open_label`` and ``random_state`` apply.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.active_learning import RandomSampler
    >>> from sklearn_openset.active_learning import SkactivemlQueryStrategy
    >>> qs = SkactivemlQueryStrategy(RandomSampler(random_state=0))
    >>> qs.query(np.zeros((5, 2)), np.full(5, np.nan), batch_size=2).shape
    (2,)
    """

    def __init__(self, strategy):
        self.strategy = strategy

    @property
    def missing_label(self):
        return self.strategy.missing_label

    @property
    def random_state(self):
        return self.strategy.random_state

    def query(
        self, X, y, candidates=None, batch_size=1, return_utilities=False, **kwargs
    ):
        """``strategy.query``; keyword arguments meant for other strategies
        (``clf``, ``fit_clf``, ...) are ignored, as scikit-activeml's
        ``call_func`` would drop them."""
        return self.strategy.query(
            X,
            y,
            candidates=candidates,
            batch_size=batch_size,
            return_utilities=return_utilities,
        )
