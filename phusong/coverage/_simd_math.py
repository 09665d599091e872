"""Elementary functions that LLVM can vectorise: exp, log, log10, cbrt, sin/cos, in numba.

A loop that calls ``math.exp`` or ``math.log`` calls libm once per element and LLVM cannot
vectorise it. The functions here use only arithmetic, ``sqrt`` and bit casts, with no branches
(the special cases are selects), so a loop over many ITM paths that calls them compiles to SIMD
instructions. Each is the textbook method: reduce the argument exactly (Cody-Waite), evaluate
a truncated Taylor series on the small remainder by Horner's rule, and scale back. Accuracy,
checked against numpy over the ranges ITM uses by ``tests/test_simd_math.py``: ``vexp``,
``vlog``, ``vsin``/``vcos`` within 2 ulp, ``vlog10`` within 3 ulp, ``vcbrt`` within 2 ulp.

None of them may be compiled with ``fastmath`` (the rounding trick of :func:`_round` relies
on IEEE addition order).
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["vcbrt", "vcos", "vexp", "vlog", "vlog10", "vsin", "vsincos", "vsqrt"]

# forceinline: each is compiled once (and cached) as its own function marked LLVM
# ``alwaysinline``, so LLVM inlines it when it links it into a caller and the caller's loop
# holds no call. numba's own ``inline="always"`` gives the same machine code but copies the
# function's IR into every call site and redoes the caller's SSA: ≈ 25 CPU-s of numba compile
# for ``_itm_lanes.lanes_frequency`` alone, against ≈ 2 this way.
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "forceinline": True}

_LN2_HI = 6.93147180369123816490e-01  # ln 2, upper 32 bits: k · _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10  # ln 2 − _LN2_HI
_INV_LN2 = 1.0 / math.log(2.0)
_INV_LN10 = 1.0 / math.log(10.0)
_SHIFTER = 6755399441055744.0  # 1.5 · 2^52: x + S − S rounds x to an integer (|x| < 2^51)
_PIO2_HI = 1.57079632673412561417e+00  # π/2, upper 33 bits
_PIO2_LO = 6.07710050650619224932e-11  # π/2 − _PIO2_HI
_SQRT2 = math.sqrt(2.0)
_THIRD = 1.0 / 3.0


@intrinsic
def _as_int(typingctx, x):
    """The bits of a float64 as an int64 (a bit cast, not a conversion)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _as_float(typingctx, x):
    """The float64 whose bits are the int64 ``x``."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def vsqrt(typingctx, x):
    """Square root of a float64 as LLVM's ``llvm.sqrt`` intrinsic (numba's ``math.sqrt`` is a
    libm call that blocks vectorisation); correctly rounded, the same value as libm's."""
    sig = types.float64(types.float64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.sqrt.f64")
        return builder.call(fn, args)

    return sig, codegen


@njit(**_JIT)
def _round(x):
    """``x`` rounded to the nearest integer (ties to even), as a float; |x| < 2^51."""
    return (x + _SHIFTER) - _SHIFTER


@njit(**_JIT)
def vexp(x):
    """e^x, within 2 ulp; 0 below −708 (no subnormal results), inf above 709.78 (overflow)."""
    xc = min(max(x, -708.0), 710.0)
    k = _round(xc * _INV_LN2)
    r = (xc - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln2/2, exact reduction
    # e^r by its Taylor series to r^14 (the next term is < 2^-58 relative)
    p = 1.0 / 87178291200.0
    p = p * r + 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r * r + r  # e^r - 1, small terms first
    ki = int(k)
    # 2^k split in two factors so that k = 1024 (x up to 709.78) does not overflow the exponent
    k1 = ki >> 1
    s1 = _as_float((k1 + 1023) << 52)
    s2 = _as_float((ki - k1 + 1023) << 52)
    out = ((1.0 + p) * s1) * s2
    out = out if x >= -708.0 else 0.0
    out = out if x < 710.0 else math.inf  # above 709.78 the product overflows to inf
    return out if x == x else x


@njit(**_JIT)
def vlog(x):
    """Natural logarithm, within 1 ulp; −inf at 0, nan below 0 or at nan, inf at inf."""
    tiny = x < 2.2250738585072014e-308
    xs = x * 18014398509481984.0 if tiny else x  # subnormals scaled by 2^54
    bits = _as_int(xs)
    e = (bits >> 52) - 1023 - (54 if tiny else 0)
    m = _as_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # mantissa in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    f = m - 1.0  # in [√2/2 − 1, √2 − 1], exact
    s = f / (2.0 + f)
    z = s * s
    # 2 atanh(s) = 2s + s·R(z), R(z) = Σ 2 z^k / (2k + 1): Taylor to z^11 (next < 2^-60)
    r = 2.0 / 23.0
    r = r * z + 2.0 / 21.0
    r = r * z + 2.0 / 19.0
    r = r * z + 2.0 / 17.0
    r = r * z + 2.0 / 15.0
    r = r * z + 2.0 / 13.0
    r = r * z + 2.0 / 11.0
    r = r * z + 2.0 / 9.0
    r = r * z + 2.0 / 7.0
    r = r * z + 2.0 / 5.0
    r = r * z + 2.0 / 3.0
    r = r * z
    hfsq = 0.5 * f * f
    ef = float(e)
    # log(1 + f) = f − hfsq + s (hfsq + R): the exact f carries the leading bits
    out = ef * _LN2_HI + (f - (hfsq - (s * (hfsq + r) + ef * _LN2_LO)))
    out = out if x > 0.0 else (-math.inf if x == 0.0 else math.nan)
    out = out if x < math.inf else x
    return out if x == x else x


@njit(**_JIT)
def vlog10(x):
    """Base-10 logarithm, within 3 ulp (:func:`vlog` times 1/ln 10)."""
    return vlog(x) * _INV_LN10


@njit(**_JIT)
def vcbrt(x):
    """Real cube root of ``x`` > 0, within 2 ulp (e^(ln x / 3) and one Newton step)."""
    y = vexp(vlog(x) * _THIRD)
    return y - (y * y * y - x) / (3.0 * y * y)


@njit(**_JIT)
def vsincos(x):
    """``(sin x, cos x)`` for |x| <= 4 (ITM's phase angles lie in [0, π]), within 2 ulp."""
    k = _round(x * (2.0 / math.pi))
    r = (x - k * _PIO2_HI) - k * _PIO2_LO  # |r| <= π/4; k·_PIO2_HI is exact for small k
    z = r * r
    # Taylor series to r^19 / r^20 (next terms < 2^-60 relative on |r| <= π/4)
    s = -1.0 / 121645100408832000.0
    s = s * z + 1.0 / 355687428096000.0
    s = s * z - 1.0 / 1307674368000.0
    s = s * z + 1.0 / 6227020800.0
    s = s * z - 1.0 / 39916800.0
    s = s * z + 1.0 / 362880.0
    s = s * z - 1.0 / 5040.0
    s = s * z + 1.0 / 120.0
    s = s * z - 1.0 / 6.0
    sn = r + r * z * s
    c = 1.0 / 2432902008176640000.0
    c = c * z - 1.0 / 6402373705728000.0
    c = c * z + 1.0 / 20922789888000.0
    c = c * z - 1.0 / 87178291200.0
    c = c * z + 1.0 / 479001600.0
    c = c * z - 1.0 / 3628800.0
    c = c * z + 1.0 / 40320.0
    c = c * z - 1.0 / 720.0
    c = c * z + 1.0 / 24.0
    cs = 1.0 - (0.5 * z - z * z * c)
    # quadrant q = k mod 4: sin x = sn, cs, −sn, −cs and cos x = cs, −sn, −cs, sn; written
    # with bit tests (an equality chain would become a switch, which LLVM does not vectorise)
    q = int(k)
    odd = (q & 1) != 0
    s_x = cs if odd else sn
    c_x = sn if odd else cs
    sin_x = -s_x if (q & 2) != 0 else s_x
    cos_x = -c_x if ((q + 1) & 2) != 0 else c_x
    return sin_x, cos_x


@njit(**_JIT)
def vsin(x):
    """sin x for |x| <= 4, within 2 ulp (:func:`vsincos`)."""
    return vsincos(x)[0]


@njit(**_JIT)
def vcos(x):
    """cos x for |x| <= 4, within 2 ulp (:func:`vsincos`)."""
    return vsincos(x)[1]
