"""Two scalar ITM expressions evaluated as one two-lane vector operation (numba intrinsics).

LLVM does not pair independent scalar divisions of a loop body by itself (its SLP vectoriser
left :func:`phusong.coverage._itm_terrain.find_horizons`'s two divisions per sample scalar),
and a division's throughput is what bounds such loops. The intrinsics here emit two
expressions of the same shape as ``<2 x double>`` subtraction, division, multiplication and
subtraction: each lane performs the same IEEE operations, correctly rounded, as the scalar
expression (no fast-math flags, so no fused multiply-add and no reassociation), so the results
are the same floats bit for bit on every target; only the instruction count changes (one
division instruction for two).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["horizon_pair", "slope_pair"]

_F64 = types.float64
_PAIR = types.UniTuple(_F64, 2)
_VEC = ir.VectorType(ir.DoubleType(), 2)
_LANES = (ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 1))


def _pack(builder, x, y):
    """The two-lane vector ``(x, y)``."""
    v = builder.insert_element(ir.Constant(_VEC, ir.Undefined), x, _LANES[0])
    return builder.insert_element(v, y, _LANES[1])


def _over_minus(builder, rise, dist, half_c):
    """``rise / dist − dist · half_c`` lane by lane (two-lane vectors in and out)."""
    return builder.fsub(builder.fdiv(rise, dist), builder.fmul(dist, half_c))


def _unpack(context, builder, v):
    """The numba pair of floats of a two-lane vector."""
    return context.make_tuple(builder, _PAIR, tuple(builder.extract_element(v, k)
                                                    for k in _LANES))


@intrinsic
def horizon_pair(typingctx, z_i, z_a, z_b, d_a, d_b, half_c):
    """``((z_i − z_a)/d_a − d_a·half_c, (z_i − z_b)/d_b − d_b·half_c)`` in two lanes (floats,
    the same values as the two scalar expressions)."""

    def codegen(context, builder, signature, args):
        zi, za, zb, da, db, hc = args
        rise = builder.fsub(_pack(builder, zi, zi), _pack(builder, za, zb))
        out = _over_minus(builder, rise, _pack(builder, da, db), _pack(builder, hc, hc))
        return _unpack(context, builder, out)

    return _PAIR(_F64, _F64, _F64, _F64, _F64, _F64), codegen


@intrinsic
def slope_pair(typingctx, rise_a, rise_b, dist, half_c):
    """``(rise_a/dist − dist·half_c, rise_b/dist − dist·half_c)`` in two lanes (floats, the
    same values as the two scalar expressions): a bound and a candidate of the ray walk's
    receiver horizon at one distance."""

    def codegen(context, builder, signature, args):
        ra, rb, d, hc = args
        out = _over_minus(builder, _pack(builder, ra, rb), _pack(builder, d, d),
                          _pack(builder, hc, hc))
        return _unpack(context, builder, out)

    return _PAIR(_F64, _F64, _F64, _F64), codegen
