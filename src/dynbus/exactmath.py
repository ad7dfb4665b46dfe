"""exp, log, sin, cos and arctan2 of numpy arrays from IEEE basic operations only.

numpy's transcendental ufuncs (and glibc's libm under them) pick an implementation per CPU (SSE,
AVX2 + FMA, AVX-512, SVML), and their results differ in the last bit between them; the simulator
quantises to uint8 and JPEG, which turns such bits into grey levels (and the perceptual hash
rounds its DCT matrix). These functions use only +, -, *, /, sqrt, rint, frexp and ldexp in
float64, which IEEE 754 rounds the same way on every machine and numpy never fuses across ufunc
calls, so their results are the same bits everywhere. Accuracy: relative error below 1e-10
(Cody-Waite range reduction, truncated Taylor series), far below float32's resolution (6e-8),
which is what the simulator computes in; a float32 argument gives a float32 result (:func:`log`
computes it in float32: a few ulps).
"""

from __future__ import annotations

from math import factorial

import numpy as np

LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts: LN2_HI * k is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.4426950408889634
F32_EXP_ZERO = -104.0  # below it e**x < 2**-150, which float32 rounds to 0
F64_EXP_ZERO = -746.0  # the same for float64 (2**-1075)
INV_LN10 = 0.4342944819032518
HALF_PI_1 = 1.5707963267341256e00  # pi / 2 in three parts (fdlibm's pio2_1, pio2_2, pio2_2t)
HALF_PI_2 = 6.077100506303966e-11
HALF_PI_3 = 2.0222662487959506e-21
TWO_OVER_PI = 0.6366197723675814
PI = 3.141592653589793
SQRT_HALF = 0.7071067811865476
TAN_PI_8 = 0.41421356237309503
PI_4 = 0.7853981633974483
_EXP_TERMS = tuple(1.0 / factorial(n) for n in range(10))  # |r| <= ln2 / 2
_SIN_TERMS = tuple((-1) ** n / factorial(2 * n + 1) for n in range(6))  # |r| <= pi / 4
_COS_TERMS = tuple((-1) ** n / factorial(2 * n) for n in range(7))
_ATANH_TERMS = tuple(1.0 / (2 * n + 1) for n in range(6))  # |s| <= 0.172
_ATAN_TERMS = tuple((-1) ** n / (2 * n + 1) for n in range(7))  # |t| <= tan(pi / 16)


def _horner(x: np.ndarray, terms: tuple[float, ...]) -> np.ndarray:
    """sum(terms[n] * x**n), one multiply and one add per term (never fused)."""
    total = np.full_like(x, terms[-1])
    for term in reversed(terms[:-1]):
        total *= x
        total += term
    return total


def _result(value: np.ndarray, like: np.ndarray | float) -> np.ndarray:
    return value.astype(np.float32) if np.asarray(like).dtype == np.float32 else value


def exp(x: np.ndarray | float) -> np.ndarray:
    """e**x (float32 in, float32 out; otherwise float64). Only arguments whose result is not
    rounded to 0 are computed (the Gaussians the simulator paints are 0 almost everywhere)."""
    arg = np.minimum(np.asarray(x, np.float64), 709.0)
    out = np.zeros_like(arg)
    live = arg > (F32_EXP_ZERO if np.asarray(x).dtype == np.float32 else F64_EXP_ZERO)
    arg = arg[live]
    k = np.rint(arg * INV_LN2)
    r = (arg - k * LN2_HI) - k * LN2_LO
    out[live] = np.ldexp(_horner(r, _EXP_TERMS), k.astype(np.int32))
    return _result(out, x)


def log(x: np.ndarray | float) -> np.ndarray:
    """Natural logarithm of positive ``x``; a float32 ``x`` is computed in float32 arithmetic
    (the B-mode image's log compression: a few float32 ulps, half the memory traffic)."""
    arr = np.asarray(x)
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    mantissa, exponent = np.frexp(arr.astype(dtype).reshape(-1))  # mantissa in [0.5, 1)
    low = mantissa < SQRT_HALF
    np.multiply(mantissa, 2.0, out=mantissa, where=low)
    exponent -= low
    s = (mantissa - 1.0) / (mantissa + 1.0)  # log m = 2 atanh(s), |s| <= 0.172
    value = _horner(s * s, _ATANH_TERMS)
    value *= s
    value *= 2.0
    power = exponent.astype(dtype)
    value += power * dtype(LN2_LO)
    value += power * dtype(LN2_HI)
    return value.reshape(arr.shape)


def log10(x: np.ndarray | float) -> np.ndarray:
    """Base-10 logarithm of positive ``x`` (float32 as :func:`log`)."""
    value = log(x)
    value *= value.dtype.type(INV_LN10)
    return value


def _quadrant(x: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(r, k): x = k pi/2 + r with |r| <= pi/4 (exact enough for |x| < 1e6)."""
    arg = np.asarray(x, np.float64)
    k = np.rint(arg * TWO_OVER_PI)
    return ((arg - k * HALF_PI_1) - k * HALF_PI_2) - k * HALF_PI_3, k.astype(np.int64) % 4


def _sin_cos(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r2 = r * r
    return r * _horner(r2, _SIN_TERMS), _horner(r2, _COS_TERMS)


def sin(x: np.ndarray | float) -> np.ndarray:
    """sine of ``x`` (radians, |x| < 1e6)."""
    r, k = _quadrant(x)
    s, c = _sin_cos(r)
    value = np.choose(k, [s, c, -s, -c])
    return _result(value, x)


def cos(x: np.ndarray | float) -> np.ndarray:
    """cosine of ``x`` (radians, |x| < 1e6)."""
    r, k = _quadrant(x)
    s, c = _sin_cos(r)
    return _result(np.choose(k, [c, -s, -c, s]), x)


def arctan2(y: np.ndarray | float, x: np.ndarray | float) -> np.ndarray:
    """The angle of (x, y) in [-pi, pi], as ``np.arctan2`` (0 at the origin)."""
    y64, x64 = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(x, np.float64))
    ay, ax = np.abs(y64), np.abs(x64)
    big, small = np.maximum(ay, ax), np.minimum(ay, ax)
    ratio = np.divide(small, big, out=np.zeros_like(big), where=big > 0)  # in [0, 1]
    upper = ratio > TAN_PI_8  # atan(a) = pi/4 + atan((a - 1) / (a + 1))
    t = np.where(upper, (ratio - 1.0) / (ratio + 1.0), ratio)  # |t| <= tan(pi/8)
    half = t / (1.0 + np.sqrt(1.0 + t * t))  # atan(t) = 2 atan(half), |half| <= tan(pi/16)
    angle = 2.0 * half * _horner(half * half, _ATAN_TERMS) + np.where(upper, PI_4, 0.0)
    angle = np.where(ay > ax, PI / 2 - angle, angle)
    angle = np.where(x64 < 0, PI - angle, angle)
    angle = np.where(np.signbit(y64), -angle, angle)
    return _result(angle, np.result_type(np.asarray(y), np.asarray(x)).type(0))


def arccos(x: np.ndarray | float) -> np.ndarray:
    """arccos of ``x`` in [-1, 1]."""
    c = np.asarray(x, np.float64)
    return _result(arctan2(np.sqrt((1.0 - c) * (1.0 + c)), c), x)
