"""Tests of the Weibull tail engine (sklearn_openset.evt) against libMR 0.1.9.

The golden numbers live in ``shared/reference`` beside the repository (see its
README.md for how libMR 0.1.9 produced them).

Tolerances: the engine mirrors libMR's FitHigh step by step (MATLAB wblfit, the
fzero Brent search with tol 1e-6, sequential sums over the tail in decreasing
order), so it agrees with libMR to a few ulp: measured max relative error
4.4e-16 on shape and scale (13 of 24 fixtures bitwise equal) and max absolute
error 3.3e-16 on the fixture w-scores, 1.6e-15 on the OpenMax w-scores. The
tests assert the targets ``rtol=1e-10`` (parameters) and ``atol=1e-12``
(w-scores), which leave room for other platforms' libm.
"""

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_openset.evt import _openmax as evt_openmax
from sklearn_openset.evt import _weibull
from sklearn_openset.evt import INVALID_W_SCORE, WeibullTailFitter, fit_high

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
PARAM_RTOL = 1e-10
W_ATOL = 1e-12

needs_reference = pytest.mark.skipif(
    not REFERENCE_DIR.is_dir(), reason=f"golden data folder {REFERENCE_DIR} absent"
)


def _load_json():
    if not REFERENCE_DIR.is_dir():
        return {"fixtures": [], "edge_cases": []}
    with open(REFERENCE_DIR / "libmr_fithigh.json") as f:
        return json.load(f)


GOLDEN = _load_json()
FIXTURES = GOLDEN["fixtures"]
# Short names for the 7 edge cases, found by the start of their description.
_EDGE_PREFIXES = {
    "all_identical": "all_identical_tail",
    "fit_size_smaller": "fit_size < len(data)",
    "presorted_top4": "same as previous",
    "fit_size_larger": "fit_size > len(data)",
    "tail_size_1": "tail size 1",
    "translate_0": "translate_amount=0",
    "translate_2.7": "float translate_amount",
}
EDGE_CASES = {
    name: case
    for name, prefix in _EDGE_PREFIXES.items()
    for case in GOLDEN["edge_cases"]
    if case["case"].startswith(prefix)
}


def _fixture_id(fx):
    return f"{fx['name']}-T{fx['translate_amount']}"


@pytest.fixture(scope="module")
def openmax_npz():
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"golden data folder {REFERENCE_DIR} absent")
    with np.load(REFERENCE_DIR / "openmax_eucos.npz") as npz:
        return {k: npz[k] for k in npz.files}


def _libmr_w_score(x, params):
    """libMR's scalar w_score, written out literally (for cross-checks)."""
    scale, shape, sign, translate, small = params
    t = (x * sign + translate) - small
    return 0.0 if t < 0 else 1.0 - np.exp(-((t / scale) ** shape))


# ------------------------------------------------------------ golden fixtures
@needs_reference
def test_reference_data_complete():
    assert len(FIXTURES) == 24
    assert len(GOLDEN["edge_cases"]) == 7
    assert len(EDGE_CASES) == 7


@needs_reference
@pytest.mark.parametrize("fx", FIXTURES, ids=_fixture_id)
def test_fixture_matches_libmr(fx):
    tail = np.asarray(fx["tail"])
    weibull = fit_high([tail], fx["tail_size"], translate_amount=fx["translate_amount"])
    params = fx["params"]

    assert weibull.valid_.tolist() == [fx["is_valid"]]
    assert weibull.n_tail_.tolist() == [fx["tail_size"]]
    assert_allclose(weibull.shape_, [params["shape"]], rtol=PARAM_RTOL)
    assert_allclose(weibull.scale_, [params["scale"]], rtol=PARAM_RTOL)
    assert weibull.small_score_[0] == params["small_score"]  # a data value: exact
    assert_allclose(weibull.libmr_params()[0], fx["get_params_raw"], rtol=PARAM_RTOL)

    w = weibull.w_score(np.asarray(fx["queries"])[:, np.newaxis])[:, 0]
    assert w.shape == (25,)
    assert_allclose(w, fx["w_scores"], rtol=0, atol=W_ATOL)


@needs_reference
@pytest.mark.parametrize("translate", [1, 10000])
def test_fixtures_fitted_in_one_vectorized_call(translate):
    """All 12 tails of a constructor (lengths 2 to 100) in one ragged call."""
    fxs = [fx for fx in FIXTURES if fx["translate_amount"] == translate]
    assert len(fxs) == 12
    weibull = fit_high([fx["tail"] for fx in fxs], 100, translate_amount=translate)
    assert weibull.valid_.all()
    assert_array_equal(weibull.n_tail_, [fx["tail_size"] for fx in fxs])
    expected = np.array([fx["get_params_raw"] for fx in fxs])
    assert_allclose(weibull.libmr_params(), expected, rtol=PARAM_RTOL)

    # Score every query of every fixture at once: column c -> fixture c.
    queries = np.array([fx["queries"] for fx in fxs]).T  # (25, 12)
    w = weibull.w_score(queries)
    assert_allclose(w, np.array([fx["w_scores"] for fx in fxs]).T, rtol=0, atol=W_ATOL)


# ----------------------------------------------------------------- edge cases
def _edge_translate(case):
    ctor = case["constructor"]
    return float(ctor.split("=")[1].rstrip(")")) if "=" in ctor else 1


@needs_reference
@pytest.mark.parametrize(
    "key",
    [
        "all_identical",
        "fit_size_smaller",
        "presorted_top4",
        "tail_size_1",
        "translate_0",
        "translate_2.7",
    ],
)
def test_edge_cases_match_libmr(key):
    case = EDGE_CASES[key]
    weibull = fit_high(
        [case["data"]], case["fit_size"], translate_amount=_edge_translate(case)
    )
    params = case["params"]
    assert weibull.valid_.tolist() == [case["is_valid"]]
    assert weibull.translate_amount_ == params["translate_amount"]
    expected = [
        params[k] for k in ("scale", "shape", "sign", "translate_amount", "small_score")
    ]
    assert_allclose(weibull.libmr_params()[0], expected, rtol=PARAM_RTOL)
    w = weibull.w_score(np.asarray(case["queries"])[:, np.newaxis])[:, 0]
    assert_allclose(w, case["w_scores"], rtol=0, atol=W_ATOL)
    if not case["is_valid"]:
        assert np.all(w == INVALID_W_SCORE)


@needs_reference
def test_edge_case_fit_size_larger_than_data_uses_what_there_is():
    """libMR raises ValueError here; our ragged API fits the values there are."""
    larger = EDGE_CASES["fit_size_larger"]
    assert "ValueError" in larger["exception"]
    weibull = fit_high([larger["data"]], larger["fit_size"])
    assert weibull.n_tail_.tolist() == [len(larger["data"])]
    assert weibull.valid_.tolist() == [True]
    same = fit_high([larger["data"]], len(larger["data"]))
    assert_array_equal(weibull.libmr_params(), same.libmr_params())


# -------------------------------------------------------- OpenMax end to end
@pytest.mark.parametrize("distance", ["eucos", "euclidean", "cosine"])
def test_openmax_weibull_params(openmax_npz, distance):
    tails = openmax_npz[f"weibull_tail_{distance}"]
    assert tails.shape == (6, 20)
    weibull = fit_high(tails, int(openmax_npz["tail_size"]))
    assert weibull.valid_.all()
    assert list(openmax_npz["weibull_params_columns"]) == [
        "scale",
        "shape",
        "sign",
        "translate_amount",
        "small_score",
    ]
    assert_allclose(
        weibull.libmr_params(),
        openmax_npz[f"weibull_params_{distance}"],
        rtol=PARAM_RTOL,
    )
    w = weibull.w_score(openmax_npz[f"test_dist_{distance}"])
    assert_allclose(w, openmax_npz[f"test_wscore_{distance}"], rtol=0, atol=W_ATOL)


def test_openmax_alias_and_osdn_literal(openmax_npz):
    assert_array_equal(
        openmax_npz["weibull_params"], openmax_npz["weibull_params_eucos"]
    )
    # OSDN fits plain euclidean but queries euclidean/200: every w-score is 0.
    weibull = fit_high(openmax_npz["weibull_tail_euclidean"], 20)
    w = weibull.w_score(openmax_npz["test_dist_euclidean_osdn_literal"])
    assert_allclose(w, openmax_npz["test_wscore_euclidean_osdn_literal"], atol=W_ATOL)
    assert np.all(w == 0.0)


# ----------------------------------------------------------------- behaviour
def _random_classes(seed=0, n_classes=40):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 60, size=n_classes)
    data = [rng.gamma(2.0, 1.0, size=n) for n in sizes]
    data[3] = np.full(12, 0.25)  # all equal: invalid
    data[4] = np.array([2.0])  # one value: invalid
    data[5] = np.array([])  # empty: invalid
    data[6] = np.array([1.0, 1.0, 3.0])  # three values, ties
    return data


def test_vectorized_equals_one_by_one():
    """Each class's fit does not depend on the other classes, to the bit.

    Sums run sequentially up to each class's own last value, so padding a
    short class to the width of the longest one changes nothing.
    """
    data = _random_classes()
    together = fit_high(data, 20)
    for c, values in enumerate(data):
        alone = fit_high([values], 20)
        assert_array_equal(alone.libmr_params()[0], together.libmr_params()[c])
        assert alone.valid_[0] == together.valid_[c]
        assert alone.n_tail_[0] == together.n_tail_[c]


def test_two_dimensional_equals_sequence_and_order_invariance():
    rng = np.random.default_rng(1)
    data = rng.lognormal(0.0, 0.5, size=(30, 80))
    as_array = fit_high(data, 20)
    as_list = fit_high(list(data), 20)
    shuffled = fit_high(rng.permuted(data, axis=1), 20)
    top_only = fit_high(np.sort(data, axis=1)[:, -20:], 20)
    for other in (as_list, shuffled, top_only):
        assert_array_equal(other.libmr_params(), as_array.libmr_params())
    assert as_array.valid_.all()
    assert_array_equal(as_array.n_tail_, np.full(30, 20))
    assert_array_equal(as_array.small_score_, np.sort(data, axis=1)[:, -20])


def test_ragged_input():
    data = _random_classes()
    weibull = fit_high(data, 20)
    lengths = np.array([len(d) for d in data])
    assert_array_equal(weibull.n_tail_, np.minimum(lengths, 20))
    expected_valid = np.array(
        [len(d) >= 2 and np.ptp(np.sort(d)[-20:]) > 0 for d in data]
    )
    assert_array_equal(weibull.valid_, expected_valid)
    invalid = ~weibull.valid_
    assert invalid[[3, 4, 5]].all() and weibull.valid_[6]
    assert np.all(weibull.scale_[invalid] == 0) and np.all(weibull.shape_[invalid] == 0)
    assert np.all(weibull.small_score_[invalid] == 0)
    # a short class equals the fit of all its values
    short = int(np.flatnonzero((lengths > 2) & (lengths < 20))[0])
    alone = fit_high([data[short]], lengths[short])
    assert_array_equal(alone.libmr_params()[0], weibull.libmr_params()[short])
    # object arrays of ragged classes are accepted too
    as_object = np.empty(len(data), dtype=object)
    as_object[:] = data
    assert_array_equal(fit_high(as_object, 20).libmr_params(), weibull.libmr_params())


def test_ragged_selection_equals_sorting_each_class():
    """Ragged selection (one partial sort per class) against a full sort, and
    against the 2-D path on classes of equal length."""
    data = _random_classes(seed=5, n_classes=25)
    data.append(np.random.default_rng(6).gamma(2.0, 1.0, size=5000))
    tails, n_tail = _weibull._top_tails(data, 20)
    for row, values, k in zip(tails, data, n_tail):
        assert_array_equal(row[:k], np.sort(values)[::-1][:k])
    equal = np.random.default_rng(7).gamma(2.0, 1.0, size=(6, 50))
    tails_list, _ = _weibull._top_tails(list(equal), 20)
    tails_2d, _ = _weibull._top_tails(equal, 20)
    assert_array_equal(tails_list, tails_2d)
    assert_array_equal(
        fit_high(list(equal), 20).libmr_params(), fit_high(equal, 20).libmr_params()
    )


def test_zero_width_2d_array_gives_invalid_classes():
    weibull = fit_high(np.empty((3, 0)), 20)
    assert not weibull.valid_.any()
    assert_array_equal(weibull.n_tail_, [0, 0, 0])
    assert np.all(weibull.w_score(np.ones((2, 3))) == INVALID_W_SCORE)


def test_inputs_not_mutated():
    rng = np.random.default_rng(2)
    data = rng.gamma(2.0, 1.0, size=(5, 50))
    data_copy = data.copy()
    ragged = [rng.gamma(2.0, 1.0, size=n) for n in (3, 30, 50)]
    ragged_copy = [r.copy() for r in ragged]
    weibull = fit_high(data, 20)
    fit_high(ragged, 20)
    assert_array_equal(data, data_copy)
    for r, r_copy in zip(ragged, ragged_copy, strict=True):
        assert_array_equal(r, r_copy)
    x = rng.gamma(2.0, 1.0, size=(100, 5))
    x_copy = x.copy()
    w = weibull.w_score(x)
    assert_array_equal(x, x_copy)
    assert not np.shares_memory(w, x)


def test_w_score_shapes_and_formula():
    rng = np.random.default_rng(3)
    weibull = fit_high(rng.gamma(2.0, 1.0, size=(4, 100)), 20)
    params = weibull.libmr_params()
    x = rng.normal(3.0, 3.0, size=(2, 7, 4))
    w = weibull.w_score(x)
    assert w.shape == x.shape and w.dtype == np.float64
    expected = np.vectorize(lambda v, c: _libmr_w_score(v, params[c]))(x, np.arange(4))
    assert_allclose(w, expected, rtol=0, atol=1e-15)
    # a single sample as a 1-D array, integer and float32 input
    assert_array_equal(weibull.w_score(x[0, 0]), w[0, 0])
    assert_array_equal(
        weibull.w_score(np.array([1, 2, 3, 4])), weibull.w_score([1.0, 2, 3, 4])
    )
    x32 = x.astype(np.float32)
    assert_array_equal(weibull.w_score(x32), weibull.w_score(x32.astype(np.float64)))
    # below the tail (t < 0) exactly 0; infinities saturate
    below = weibull.small_score_ - weibull.translate_amount_ - 0.5
    assert np.all(weibull.w_score(below) == 0.0)
    assert np.all(weibull.w_score(np.full(4, np.inf)) == 1.0)
    assert np.all(weibull.w_score(np.full(4, -np.inf)) == 0.0)
    assert np.all(weibull.w_score(np.full(4, 1e300)) == 1.0)  # overflow -> 1.0
    assert weibull.w_score(np.empty((0, 4))).shape == (0, 4)


def test_invalid_class_scores_sentinel():
    weibull = fit_high([[1.0, 2.0, 3.5], [0.7, 0.7, 0.7], [4.0, 1.0, 2.0]], 3)
    assert_array_equal(weibull.valid_, [True, False, True])
    w = weibull.w_score(np.linspace(0, 5, 30).reshape(10, 3))
    assert np.all(w[:, 1] == INVALID_W_SCORE)
    assert np.all((w[:, [0, 2]] >= 0) & (w[:, [0, 2]] <= 1))


@pytest.mark.parametrize(
    "translate, used", [(2.7, 2), (-2.7, -2), (np.int64(3), 3), (5.0, 5)]
)
def test_translate_amount_truncated_like_libmr(translate, used):
    weibull = fit_high([[0.3, 0.9, 0.5, 1.2]], 4, translate_amount=translate)
    assert weibull.translate_amount_ == used
    assert isinstance(weibull.translate_amount_, int)
    assert weibull.valid_[0] == (used > 0)
    assert weibull.libmr_params()[0, 3] == used
    if used > 0:
        same = fit_high([[0.3, 0.9, 0.5, 1.2]], 4, translate_amount=used)
        assert_array_equal(weibull.libmr_params(), same.libmr_params())


def test_estimator_basics():
    from sklearn.exceptions import NotFittedError

    weibull = WeibullTailFitter()
    assert (weibull.tail_size, weibull.translate_amount) == (20, 1)
    assert repr(weibull) == "WeibullTailFitter(tail_size=20, translate_amount=1)"
    with pytest.raises(NotFittedError):
        weibull.w_score(np.ones((2, 2)))
    with pytest.raises(NotFittedError):
        weibull.libmr_params()
    assert weibull.fit(np.arange(40.0).reshape(2, 20)) is weibull
    assert weibull.sign_ == 1 and weibull.n_classes_ == 2
    for name in ("scale_", "shape_", "small_score_", "valid_", "n_tail_"):
        assert getattr(weibull, name).shape == (2,)
    assert weibull.libmr_params().shape == (2, 5)


@pytest.mark.parametrize(
    "tail_size, error, match",
    [
        (0, ValueError, "tail_size"),
        (-3, ValueError, "tail_size"),
        (2.5, TypeError, "tail_size"),
        (20.0, TypeError, "tail_size"),
        (True, TypeError, "tail_size"),
        ("20", TypeError, "tail_size"),
        (None, TypeError, "tail_size"),
    ],
)
def test_bad_tail_size(tail_size, error, match):
    with pytest.raises(error, match=match):
        fit_high(np.ones((2, 5)), tail_size)


@pytest.mark.parametrize(
    "translate, error",
    [
        (np.nan, ValueError),
        (np.inf, ValueError),
        ("1", TypeError),
        (None, TypeError),
        (True, TypeError),
    ],
)
def test_bad_translate_amount(translate, error):
    with pytest.raises(error, match="translate_amount"):
        fit_high(np.ones((2, 5)), 3, translate_amount=translate)


@pytest.mark.parametrize(
    "data, error, match",
    [
        (np.arange(5.0), ValueError, "2-D"),  # 1-D: ambiguous, refused
        (np.ones((2, 3, 4)), ValueError, "2-D"),
        (5.0, ValueError, "2-D"),
        ([[1.0, 2.0], [[1.0]]], ValueError, "class 1"),
        ([1.0, 2.0, 3.0], ValueError, "class 0"),
        (np.empty((0, 5)), ValueError, "at least one class"),
        ([], ValueError, "at least one class"),
        ([[1.0, np.nan, 2.0]], ValueError, "NaN"),
        (
            np.array([[1.0, 2.0], [np.inf, 1.0]]),
            ValueError,
            r"NaN or infinity \(classes \[1\]\)",
        ),
        (
            [np.array([1.0, 2.0]), np.array([3.0, -np.inf, 1.0])],
            ValueError,
            r"classes \[1\]",
        ),
        (np.array([["a", "b"]]), TypeError, "real numbers"),
        ([np.array([1 + 1j, 2.0])], TypeError, "real numbers"),
        ([[True, False]], TypeError, "real numbers"),
    ],
)
def test_bad_data(data, error, match):
    with pytest.raises(error, match=match):
        fit_high(data, 3)


def test_bad_w_score_input():
    weibull = fit_high(np.arange(12.0).reshape(3, 4), 4)
    with pytest.raises(ValueError, match="last axis"):
        weibull.w_score(np.ones((5, 2)))
    with pytest.raises(ValueError, match="last axis"):
        weibull.w_score(1.0)
    with pytest.raises(ValueError, match="NaN"):
        weibull.w_score([[1.0, np.nan, 2.0]])
    with pytest.raises(TypeError, match="real numbers"):
        weibull.w_score([["a", "b", "c"]])


def test_many_classes_fit_is_vectorized_and_fast():
    """1000 classes x tail 20 in one call (the lockstep loops do not grow
    with the number of classes); generous bound so that slow CI passes."""
    import time

    data = np.random.default_rng(4).gamma(2.0, 1.0, size=(1000, 20))
    start = time.perf_counter()
    weibull = fit_high(data, 20)
    assert time.perf_counter() - start < 1.0
    assert weibull.valid_.all()
    assert np.all(np.isfinite(weibull.libmr_params()))


@pytest.mark.parametrize("module", [_weibull, evt_openmax])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# -- properties on random tails (hypothesis) ------------------------------------
# Values of a tail: finite, of widely different magnitudes (the shift T makes
# the fit scale-dependent), with ties and all-equal tails among them.
_values = st.floats(
    min_value=-1e4, max_value=1e4, allow_nan=False, allow_subnormal=False
)
_tails = st.lists(_values, min_size=1, max_size=40)
_property_settings = settings(max_examples=60, deadline=None)


@_property_settings
@given(
    tail=_tails, tail_size=st.integers(1, 50), translate=st.sampled_from([1, 10000])
)
def test_property_w_scores_in_unit_interval_and_monotone(tail, tail_size, translate):
    weibull = fit_high([tail], tail_size, translate_amount=translate)
    tail = np.asarray(tail)
    spread = max(tail.max() - tail.min(), 1.0)
    # The tail itself, points around it and far on both sides, in order.
    queries = np.sort(
        np.concatenate(
            [
                tail,
                np.linspace(
                    tail.min() - 2 * translate - spread, tail.max() + 4 * spread, 50
                ),
                [-np.inf, np.inf, -1e300, 1e300],
            ]
        )
    )
    w = weibull.w_score(queries[:, None])[:, 0]
    if not weibull.valid_[0]:
        assert_array_equal(w, INVALID_W_SCORE)
        return
    assert np.all((w >= 0.0) & (w <= 1.0))
    assert np.all(np.diff(w) >= 0.0), "W-scores decrease somewhere with the distance"
    assert w[0] == 0.0 and w[-1] == 1.0


@_property_settings
@given(data=st.data(), tails=st.lists(_tails, min_size=1, max_size=4))
def test_property_fit_invariant_to_sample_order(data, tails):
    tail_size = data.draw(st.integers(1, 50), label="tail_size")
    shuffled = [data.draw(st.permutations(tail), label="shuffled") for tail in tails]
    fitted = fit_high(tails, tail_size)
    refitted = fit_high(shuffled, tail_size)
    # Bit for bit: only the order-free top tail_size values enter the fit.
    assert_array_equal(refitted.libmr_params(), fitted.libmr_params())
    assert_array_equal(refitted.valid_, fitted.valid_)
    assert_array_equal(refitted.n_tail_, fitted.n_tail_)
    # So is the order of the classes, up to the same permutation.
    order = data.draw(st.permutations(range(len(tails))), label="class order")
    permuted = fit_high([tails[i] for i in order], tail_size)
    assert_array_equal(permuted.libmr_params(), fitted.libmr_params()[order])
