"""Weibull tail fitting (extreme value theory), compatible with libMR's ``FitHigh``.

It reproduces, number for number, the ``FitHigh`` / ``w_score`` pair of libMR
0.1.9 (Scheirer et al., 2011), the library used by the reference OpenMax code
of Bendale & Boult (2016), while fitting every class in one vectorized call.
"""

import numbers

import numpy as np

__all__ = ["INVALID_W_SCORE", "WeibullTailFitter", "fit_high"]

#: Value returned by :meth:`WeibullTailFitter.w_score` for a class whose fit
#: failed; libMR's ``w_score`` returns the same sentinel for an invalid model.
INVALID_W_SCORE = -9999.0

# Root-finding tolerance on the normalized Gumbel scale, as in libMR (MATLAB's
# ``statset('evfit')`` default TolX).
_FZERO_TOL = 1e-6
# Safety cap on the iterations of the bracketing and Brent loops. Brent's method
# converges in a few dozen steps on this problem; halving/doubling from a
# finite positive start reaches realmin/realmax in about 1100 steps.
_MAX_BRACKET_ITER = 2200
_MAX_BRENT_ITER = 500


class WeibullTailFitter:
    r"""Fit a Weibull to the largest values of each class (libMR ``FitHigh``).

    For each class the ``tail_size`` largest values are kept and shifted so that
    the smallest kept value maps to ``translate_amount``; a two-parameter Weibull
    is fitted to them by maximum likelihood with the algorithm of MATLAB's
    ``wblfit``, exactly as libMR does. All classes are fitted at once: the root
    searches of all classes run in lockstep on numpy arrays.

    Parameters
    ----------
    tail_size : int, default=20
        Number of largest values of each class used for the fit (libMR's
        ``fit_size``; 20 in OpenMax). A class with fewer values uses all it
        has (see Notes); its count is stored in ``n_tail_``.
    translate_amount : int, default=1
        Shift ``T`` applied before the fit (libMR's ``translate_amount``, default
        1 in libMR's Python binding). It is an integer: a float is truncated with
        :func:`int` (``2.7 -> 2``) exactly as libMR's C ``int`` parameter does.
        ``T <= 0`` maps the smallest tail value to a non-positive number, whose
        logarithm does not exist, so every fit is invalid.

    Attributes
    ----------
    scale_ : ndarray of shape (n_classes,)
        Weibull scale :math:`\lambda` of each class (0 for an invalid fit).
    shape_ : ndarray of shape (n_classes,)
        Weibull shape :math:`k` of each class (0 for an invalid fit).
    small_score_ : ndarray of shape (n_classes,)
        Smallest of the kept tail values of each class (0 for an invalid fit).
    valid_ : ndarray of bool, shape (n_classes,)
        Whether the fit of each class succeeded. A fit fails when the class has
        fewer than two values, when all its tail values are equal, or when a
        shifted value is not positive (``translate_amount <= 0``).
    n_tail_ : ndarray of int, shape (n_classes,)
        Number of values actually used for each class:
        ``min(tail_size, n_values_of_class)``.
    sign_ : int
        Always 1 (libMR's sign after ``FitHigh``).
    translate_amount_ : int
        ``int(translate_amount)``, the shift actually used.
    n_classes_ : int
        Number of fitted classes.

    See Also
    --------
    fit_high : Functional form of ``WeibullTailFitter(...).fit(data)``.

    Notes
    -----
    **Fit.** For one class with kept tail values :math:`x_1, \dots, x_n` (the
    ``n = min(tail_size, len(data))`` largest) and :math:`s = \min_i x_i`
    (``small_score_``), libMR fits a Weibull to

    .. math:: y_i = (x_i + T) - s ,

    evaluated in that order, so :math:`\min_i y_i = T`. Following MATLAB's
    ``wblfit``, :math:`\log y` is fitted by a Gumbel (minimum) distribution:
    with :math:`z_i = \log y_i`, :math:`M = \max_i z_i`, :math:`R = \max_i z_i -
    \min_i z_i` and the normalized :math:`u_i = (z_i - M) / R`, the maximum
    likelihood scale :math:`\sigma` of the normalized data is the root of

    .. math:: g(\sigma) = \sigma + \bar u
              - \frac{\sum_i u_i e^{u_i / \sigma}}{\sum_i e^{u_i / \sigma}} .

    The search starts from :math:`\sigma_0 = \sqrt{6}\,\mathrm{std}(u) / \pi`
    (``std`` with ``ddof=1``), brackets the root by halving (if
    :math:`g(\sigma_0) > 0`) or doubling :math:`\sigma`, then runs the
    Brent/Dekker search of MATLAB's ``fzero`` with tolerance ``1e-6`` on the
    bracket. Then

    .. math:: \mu = \sigma \log\Big(\frac1n \sum_i e^{u_i/\sigma}\Big), \quad
              \lambda = e^{R \mu + M}, \quad k = \frac{1}{R \sigma} .

    The step logic and the stopping rule of the search are mirrored exactly,
    and sums run sequentially over the tail sorted in decreasing order, as in
    libMR, so the parameters agree with libMR 0.1.9 to about 1e-15 (relative).
    Because of the fixed shift ``T`` the fit is not scale invariant: a tail of
    width 1e-3 gets a shape near 1e3 with ``T = 1``.

    **Score.** :meth:`w_score` is the Weibull cumulative distribution function
    of the shifted value,

    .. math:: t = (x \cdot \mathrm{sign} + T) - s, \qquad
              w(x) = \begin{cases} 0 & t < 0 \\
                     1 - \exp\big(-(t/\lambda)^k\big) & t \ge 0 \end{cases}

    computed as plain ``1 - exp`` like libMR (an overflow gives exactly 1.0).

    **Invalid fits.** libMR silently resets a failed model (scale, shape and
    small score 0) and its ``w_score`` then returns -9999.0. This class does
    the same per class (``scale_``, ``shape_``, ``small_score_`` are 0 and
    :meth:`w_score` returns :data:`INVALID_W_SCORE` = -9999.0 in that class's
    column) but also reports the failure in ``valid_``, so that a caller can
    raise its own clear error instead of using the sentinel.

    **Departure from libMR.** libMR's ``fit_high(data, fit_size)`` raises
    ``ValueError`` when ``fit_size > len(data)``. Classes usually have
    different sample counts, so here a class with fewer than ``tail_size``
    values is fitted on all of its values (``n_tail_`` records how many); the
    caller decides whether to warn. A class with no value at all is invalid.

    References
    ----------
    .. [1] W. J. Scheirer, A. Rocha, R. J. Micheals and T. E. Boult,
       "Meta-Recognition: The Theory and Practice of Recognition Score
       Analysis", IEEE Transactions on Pattern Analysis and Machine
       Intelligence, 33(8), 1689-1695, 2011. (libMR)
    .. [2] A. Bendale and T. E. Boult, "Towards Open Set Deep Networks",
       IEEE Conference on Computer Vision and Pattern Recognition (CVPR), 2016.
       (OpenMax)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.evt import WeibullTailFitter
    >>> rng = np.random.default_rng(0)
    >>> distances = [rng.gamma(2.0, 1.0, size=300), rng.gamma(3.0, 0.5, size=250)]
    >>> weibull = WeibullTailFitter(tail_size=20).fit(distances)
    >>> weibull.valid_
    array([ True,  True])
    >>> weibull.n_tail_
    array([20, 20])
    >>> weibull.libmr_params().shape   # scale, shape, sign, translate, small_score
    (2, 5)
    >>> x = np.array([[0.0, 0.0], [5.0, 3.0], [50.0, 50.0]])  # column c -> class c
    >>> w = weibull.w_score(x)
    >>> w.shape
    (3, 2)
    >>> bool(w[0, 0] == 0.0), bool(w[2, 1] == 1.0)
    (True, True)
    """

    def __init__(self, tail_size=20, translate_amount=1):
        self.tail_size = tail_size
        self.translate_amount = translate_amount

    def __repr__(self):
        return (
            f"{type(self).__name__}(tail_size={self.tail_size!r}, "
            f"translate_amount={self.translate_amount!r})"
        )

    # ------------------------------------------------------------------ fit
    def fit(self, data):
        """Fit one Weibull per class to the largest values of that class.

        Parameters
        ----------
        data : array-like of shape (n_classes, n_values) or sequence of 1-D array-like
            The values of each class (for OpenMax, the distances of the
            correctly classified training samples to their class mean). A
            sequence may hold classes of different lengths. The order of the
            values does not matter; only the ``tail_size`` largest are used.
            The input is never modified.

        Returns
        -------
        self : WeibullTailFitter
            The fitted object.
        """
        tail_size = _check_tail_size(self.tail_size)
        translate = _check_translate_amount(self.translate_amount)
        tails, n_tail = _top_tails(data, tail_size)

        scale, shape, small, valid = _fit_high_tails(tails, n_tail, translate)

        self.scale_ = scale
        self.shape_ = shape
        self.small_score_ = small
        self.valid_ = valid
        self.n_tail_ = n_tail
        self.sign_ = 1
        self.translate_amount_ = translate
        self.n_classes_ = n_tail.shape[0]
        return self

    # ---------------------------------------------------------------- score
    def w_score(self, x):
        """Weibull CDF of each value under its class's fit (libMR ``w_score``).

        Parameters
        ----------
        x : array-like of shape (..., n_classes)
            Values to score; the last axis indexes the classes, so
            ``x[..., c]`` is scored with the Weibull of class ``c``. The usual
            case is ``(n_samples, n_classes)``. Infinite values are allowed
            (``+inf`` scores 1, ``-inf`` scores 0); NaN is not.

        Returns
        -------
        w : ndarray of float64, same shape as ``x``
            ``w = 1 - exp(-(t / scale)^shape)`` with
            ``t = (x + translate_amount) - small_score``, and 0 where ``t < 0``.
            Columns of invalid classes (``valid_ == False``) hold -9999.0, the
            value libMR returns for an invalid model.
        """
        self._check_is_fitted()
        x = np.asarray(x)
        if x.dtype.kind not in "iuf":
            raise TypeError(
                f"x must hold real numbers, got an array of dtype {x.dtype}."
            )
        if x.ndim == 0 or x.shape[-1] != self.n_classes_:
            raise ValueError(
                f"x must be an array whose last axis has one entry per class "
                f"(n_classes={self.n_classes_}), got shape {x.shape}."
            )
        x = x.astype(np.float64, copy=False)
        if np.isnan(x).any():
            raise ValueError("x contains NaN.")
        return _weibull_cdf(
            x,
            self.translate_amount_,
            self.small_score_,
            self.scale_,
            self.shape_,
            self.valid_,
        )

    def libmr_params(self):
        """Parameters of each class in the order of libMR's ``get_params()``.

        Returns
        -------
        params : ndarray of float64, shape (n_classes, 5)
            Columns ``(scale, shape, sign, translate_amount, small_score)``,
            the 5-tuple libMR's ``MR.get_params()`` returns for each class (an
            invalid class has ``scale = shape = small_score = 0``, like a
            reset libMR object).
        """
        self._check_is_fitted()
        n = self.n_classes_
        return np.column_stack(
            [
                self.scale_,
                self.shape_,
                np.full(n, float(self.sign_)),
                np.full(n, float(self.translate_amount_)),
                self.small_score_,
            ]
        )

    def _check_is_fitted(self):
        if not hasattr(self, "valid_"):
            # imported here: the engine itself needs only numpy, and importing
            # scikit-learn takes seconds
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. "
                "Call 'fit' with appropriate arguments before using it."
            )


def fit_high(data, tail_size, *, translate_amount=1):
    """Fit one Weibull per class to its ``tail_size`` largest values.

    Functional form of ``WeibullTailFitter(tail_size, translate_amount).fit(data)``,
    named after libMR's ``MR.fit_high`` (Scheirer et al., 2011). See
    :class:`WeibullTailFitter` for the equations and the departures from libMR.

    Parameters
    ----------
    data : array-like of shape (n_classes, n_values) or sequence of 1-D array-like
        The values of each class; classes may have different lengths.
    tail_size : int
        Number of largest values kept per class (libMR's ``fit_size``).
    translate_amount : int, default=1
        Shift applied before the fit; a float is truncated with :func:`int`.

    Returns
    -------
    weibull : WeibullTailFitter
        The fitted object.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_openset.evt import fit_high
    >>> weibull = fit_high([[0.5, 0.7, 0.9, 1.2, 0.3, 0.4]], 4)
    >>> weibull.small_score_
    array([0.5])
    >>> print(np.round(weibull.libmr_params(), 6))
    [[1.433248 5.661494 1.       1.       0.5     ]]
    >>> print(np.round(weibull.w_score([[0.4], [1.0], [1.3]]), 6))
    [[0.069253]
     [0.725823]
     [0.973551]]
    """
    return WeibullTailFitter(
        tail_size=tail_size, translate_amount=translate_amount
    ).fit(data)


# ====================================================================== helpers
def _check_positive_integer(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer >= 1, got {value!r} "
            f"of type {type(value).__name__}."
        )
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def _check_tail_size(tail_size):
    return _check_positive_integer(tail_size, "tail_size")


def _check_translate_amount(translate_amount):
    if isinstance(translate_amount, (bool, np.bool_)) or not isinstance(
        translate_amount, numbers.Real
    ):
        raise TypeError(
            f"translate_amount must be a real number (truncated to int like "
            f"libMR), got {translate_amount!r} of type "
            f"{type(translate_amount).__name__}."
        )
    if not np.isfinite(translate_amount):
        raise ValueError(f"translate_amount must be finite, got {translate_amount!r}.")
    # libMR's C ``int translate_amount`` truncates toward zero.
    return int(translate_amount)


def _as_class_array(values, index):
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"data must hold real numbers; class {index} has dtype {arr.dtype}."
        )
    if arr.ndim != 1:
        raise ValueError(
            f"data must be 2-D (n_classes, n_values) or a sequence of 1-D "
            f"arrays; class {index} has shape {arr.shape}."
        )
    return arr


def _top_tails(data, tail_size):
    """Keep the ``tail_size`` largest values of each class, in decreasing order.

    Returns ``tails`` of shape (n_classes, width), each row the kept values in
    decreasing order followed by padding (copies of the row's last kept value,
    or 1.0 for an empty class), and ``n_tail`` (n_classes,). The input is
    never modified.
    """
    if isinstance(data, (list, tuple)):
        rows = [_as_class_array(v, i) for i, v in enumerate(data)]
    else:
        arr = np.asarray(data)
        if arr.dtype == object and arr.ndim == 1:  # ragged classes in an array
            rows = [_as_class_array(v, i) for i, v in enumerate(arr)]
        else:
            return _top_tails_2d(arr, tail_size)

    n_classes = len(rows)
    if n_classes == 0:
        raise ValueError("data must hold at least one class, got 0.")
    rows = [np.asarray(r, dtype=np.float64) for r in rows]  # no copy if float64
    bad = [index for index, row in enumerate(rows) if not np.isfinite(row).all()]
    if bad:
        raise ValueError(f"data contains NaN or infinity (classes {bad}).")
    lengths = np.array([r.shape[0] for r in rows], dtype=np.intp)
    n_tail = np.minimum(lengths, tail_size)
    width = max(int(n_tail.max()), 1)
    # One partial sort per class: O(n_values) in all, where padding the
    # classes to a dense block would cost O(n_classes * largest class).
    # np.partition returns a copy, so the caller's arrays are never modified.
    tails = np.empty((n_classes, width))
    for index, (row, k) in enumerate(zip(rows, n_tail.tolist())):
        if k == 0:
            continue
        top = np.partition(row, row.shape[0] - k)[row.shape[0] - k :]
        top.sort()
        tails[index, :k] = top[::-1]
    _pad_tails(tails, n_tail)
    return tails, n_tail


def _top_tails_2d(arr, tail_size):
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"data must hold real numbers, got an array of dtype {arr.dtype}."
        )
    if arr.ndim != 2:
        raise ValueError(
            "data must be 2-D (n_classes, n_values) or a sequence of 1-D arrays "
            f"(one per class), got an array of shape {arr.shape}. For a single "
            "class pass data[np.newaxis, :]."
        )
    n_classes, n_values = arr.shape
    if n_classes == 0:
        raise ValueError("data must hold at least one class, got 0.")
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"data contains NaN or infinity (classes {bad.tolist()}).")
    k = min(tail_size, n_values)
    n_tail = np.full(n_classes, k, dtype=np.intp)
    if k == 0:
        return np.ones((n_classes, 1)), n_tail
    vals = arr.astype(np.float64)  # a copy: the caller's array is untouched
    if k < n_values:
        vals = np.partition(vals, n_values - k, axis=1)[:, n_values - k :]
    vals.sort(axis=1)
    return np.ascontiguousarray(vals[:, ::-1]), n_tail


def _pad_tails(tails, n_tail):
    """Fill the entries after each row's tail with its last kept value (1.0 if
    the row is empty) so that arithmetic on them stays finite; they never
    enter a result (sums stop at the row's last kept value)."""
    n_classes, width = tails.shape
    pad = np.arange(width) >= n_tail[:, None]
    if pad.any():
        last = tails[np.arange(n_classes), np.maximum(n_tail - 1, 0)]
        last = np.where(n_tail > 0, last, 1.0)
        np.copyto(tails, np.broadcast_to(last[:, None], tails.shape), where=pad)


def _row_sums(values, last):
    """Sequential (left-to-right) sum of ``values[i, :last[i] + 1]`` per row.

    ``np.cumsum`` adds sequentially, like libMR's C loops, so the result does
    not depend on the padding after ``last`` (numpy's pairwise ``sum`` would).
    """
    return np.cumsum(values, axis=1)[np.arange(values.shape[0]), last]


def _gumbel_score(sigma, u, mean_u, last):
    """Likelihood equation g(sigma) of the Gumbel (min) scale, one per row."""
    w = np.exp(u / sigma[:, None])
    return (sigma + mean_u) - _row_sums(u * w, last) / _row_sums(w, last)


def _fit_high_tails(tails, n_tail, translate):
    """Vectorized libMR FitHigh on prepared tails (rows in decreasing order)."""
    if tails.shape[1] < 2:  # room for the dummy 2-value row of invalid classes
        tails = np.concatenate([tails, tails[:, -1:]], axis=1)
    n_classes, width = tails.shape
    rows = np.arange(n_classes)
    last = np.maximum(n_tail - 1, 0)

    small = tails[rows, last]  # smallest kept value
    with np.errstate(all="ignore"):
        y = (tails + translate) - small[:, None]
        valid = (n_tail >= 2) & np.all((y > 0) & np.isfinite(y), axis=1)
        z = np.log(np.where(valid[:, None], y, 1.0))
        z_max = z[:, 0]
        z_range = z_max - z[rows, last]
        valid &= (z_range > 0) & np.isfinite(z_range)
    # Dummy but harmless data for invalid rows so that no NaN appears below.
    z_range = np.where(valid, z_range, 1.0)
    pad = np.arange(width) >= n_tail[:, None]
    u = (z - z_max[:, None]) / z_range[:, None]
    u = np.where(valid[:, None] & ~pad, u, 0.0)
    u[~valid, 0] = -1.0  # row [-1, 0, 0...] for invalid classes
    n_eff = np.where(valid, n_tail, 2).astype(np.float64)
    last = np.where(valid, last, 1)

    mean_u = _row_sums(u, last) / n_eff
    dev = u - mean_u[:, None]  # padding after ``last`` never enters a sum
    std_u = np.sqrt(_row_sums(dev * dev, last) / (n_eff - 1.0))
    sigma0 = (np.sqrt(6.0) * std_u) / np.pi

    lower, upper, ok = _bracket(sigma0, u, mean_u, last)
    valid &= ok
    sigma = _fzero(lower, upper, u, mean_u, last, _FZERO_TOL)

    with np.errstate(all="ignore"):
        mu = sigma * np.log(_row_sums(np.exp(u / sigma[:, None]), last) / n_eff)
        scale = np.exp(z_range * mu + z_max)
        shape = 1.0 / (z_range * sigma)
    valid &= np.isfinite(scale) & np.isfinite(shape) & (scale > 0) & (shape > 0)

    zero = np.zeros(n_classes)
    return (
        np.where(valid, scale, zero),
        np.where(valid, shape, zero),
        np.where(valid, small, zero),
        valid,
    )


def _bracket(sigma0, u, mean_u, last):
    """Bracket the root of g by halving or doubling sigma (MATLAB evfit).

    If ``g(sigma0) > 0`` the bracket is ``[sigma/2, sigma]`` with sigma halved
    until ``g(sigma/2) <= 0``; otherwise ``[sigma, 2 sigma]`` with sigma doubled
    until ``g(2 sigma) >= 0``. Returns ``lower, upper, ok`` (``ok`` False where
    sigma under- or overflowed: no root).
    """
    tiny = np.finfo(np.float64).tiny
    huge = np.finfo(np.float64).max
    with np.errstate(all="ignore"):
        down = _gumbel_score(sigma0, u, mean_u, last) > 0
        upper = np.where(down, sigma0, 2.0 * sigma0)
        lower = np.where(down, 0.5 * sigma0, sigma0)
        ok = np.ones(sigma0.shape, dtype=bool)
        # rows still searching: "down" rows test g(lower) > 0, "up" rows g(upper) < 0
        active = np.ones(sigma0.shape, dtype=bool)
        for _ in range(_MAX_BRACKET_ITER):
            probe = np.where(down, lower, upper)
            g = _gumbel_score(probe, u, mean_u, last)
            active &= np.where(down, g > 0, g < 0)
            if not active.any():
                break
            step_down = active & down
            step_up = active & ~down
            upper = np.where(step_down, lower, upper)
            lower = np.where(step_down, 0.5 * upper, lower)
            lower = np.where(step_up, upper, lower)
            upper = np.where(step_up, 2.0 * lower, upper)
            failed = (step_down & (lower <= tiny)) | (step_up & (upper > huge))
            ok &= ~failed
            active &= ~failed
        else:  # pragma: no cover - guarded by the underflow/overflow tests
            ok &= ~active
    return lower, upper, ok


def _fzero(a, b, u, mean_u, last, tol):
    """Brent/Dekker root search of MATLAB ``fzero`` on ``[a, b]``, all rows at once.

    Mirrors fzero's main loop step by step (bisection, secant or inverse
    quadratic interpolation; ``toler = 2 tol max(|b|, 1)``); rows that have
    converged are frozen while the others go on. Returns the final ``b``.
    """
    with np.errstate(all="ignore"):
        fa = _gumbel_score(a, u, mean_u, last)
        fb = _gumbel_score(b, u, mean_u, last)
        # fzero returns a at once when f(a) == 0
        b = np.where(fa == 0, a, b)
        fb = np.where(fa == 0, 0.0, fb)
        c = b.copy()
        fc = fb.copy()
        d = b - a
        e = d.copy()
        active = np.isfinite(fb) & np.isfinite(fa)
        for _ in range(_MAX_BRENT_ITER):
            active &= (fb != 0) & (a != b)
            if not active.any():
                break
            # b is the best point so far, a the previous b, c opposite b.
            same = active & ((fb > 0) == (fc > 0))
            c = np.where(same, a, c)
            fc = np.where(same, fa, fc)
            d = np.where(same, b - a, d)
            e = np.where(same, d, e)

            swap = active & (np.abs(fc) < np.abs(fb))
            a = np.where(swap, b, a)
            b = np.where(swap, c, b)
            c = np.where(swap, a, c)
            fa = np.where(swap, fb, fa)
            fb = np.where(swap, fc, fb)
            fc = np.where(swap, fa, fc)

            # convergence test
            m = 0.5 * (c - b)
            toler = 2.0 * tol * np.maximum(np.abs(b), 1.0)
            active &= ~((np.abs(m) <= toler) | (fb == 0.0))
            if not active.any():
                break

            # bisection or interpolation
            bisect = (np.abs(e) < toler) | (np.abs(fa) <= np.abs(fb))
            s = fb / fa
            linear = a == c
            q_iq = fa / fc
            r_iq = fb / fc
            p = np.where(
                linear,
                2.0 * m * s,
                s * (2.0 * m * q_iq * (q_iq - r_iq) - (b - a) * (r_iq - 1.0)),
            )
            q = np.where(linear, 1.0 - s, (q_iq - 1.0) * (r_iq - 1.0) * (s - 1.0))
            q = np.where(p > 0, -q, q)
            p = np.where(p > 0, p, -p)
            accept = ~bisect & (
                (2.0 * p < 3.0 * m * q - np.abs(toler * q)) & (p < np.abs(0.5 * e * q))
            )
            new_e = np.where(accept, d, m)
            new_d = np.where(accept, p / q, m)
            d = np.where(active, new_d, d)
            e = np.where(active, new_e, e)

            # next point
            step = np.where(np.abs(d) > toler, d, np.where(b > c, -toler, toler))
            a = np.where(active, b, a)
            fa = np.where(active, fb, fa)
            b = np.where(active, b + step, b)
            fb = np.where(active, _gumbel_score(b, u, mean_u, last), fb)
    return b


def _weibull_cdf(x, translate, small, scale, shape, valid):
    """``1 - exp(-((x + T - small)/scale)^shape)``, 0 for negative t; in place."""
    small = np.where(valid, small, 0.0)
    scale = np.where(valid, scale, 1.0)
    shape = np.where(valid, shape, 1.0)
    t = np.add(x, translate, dtype=np.float64)  # new array: x is untouched
    t -= small
    np.maximum(t, 0.0, out=t)  # t < 0 -> 0 -> w = 1 - exp(-0) = 0 exactly
    t /= scale
    with np.errstate(over="ignore"):
        np.power(t, shape, out=t)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.subtract(1.0, t, out=t)
    if not valid.all():
        t[..., ~valid] = INVALID_W_SCORE
    return t
