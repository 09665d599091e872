"""Two scalar ITM expressions evaluated as one two-lane vector operation (numba intrinsic).

LLVM does not pair independent scalar divisions of a loop body by itself (its SLP vectoriser
left :func:`phusong.coverage._itm_terrain.find_horizons`'s two divisions per sample scalar),
and a division's throughput is what bounds that loop. :func:`horizon_pair` emits the
transmitter's and the receiver's horizon candidates of one profile sample as ``<2 x double>``
subtraction, division, multiplication and subtraction: each lane performs the same IEEE
operations, correctly rounded, as the scalar expression (no fast-math flags, so no fused
multiply-add and no reassociation), so the results are the same floats bit for bit on every
target; only the instruction count changes (one division instruction for two).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["horizon_pair", "slope_pair"]


@intrinsic
def horizon_pair(typingctx, z_i, z_a, z_b, d_a, d_b, half_c):
    """``((z_i − z_a)/d_a − d_a·half_c, (z_i − z_b)/d_b − d_b·half_c)`` in two lanes (floats,
    the same values as the two scalar expressions)."""
    f64 = types.float64
    sig = types.UniTuple(f64, 2)(f64, f64, f64, f64, f64, f64)

    def codegen(context, builder, signature, args):
        vec = ir.VectorType(ir.DoubleType(), 2)
        lane0 = ir.Constant(ir.IntType(32), 0)
        lane1 = ir.Constant(ir.IntType(32), 1)

        def pack(x, y):
            v = builder.insert_element(ir.Constant(vec, ir.Undefined), x, lane0)
            return builder.insert_element(v, y, lane1)

        zi, za, zb, da, db, hc = args
        dist = pack(da, db)
        rise = builder.fsub(pack(zi, zi), pack(za, zb))
        out = builder.fsub(builder.fdiv(rise, dist), builder.fmul(dist, pack(hc, hc)))
        return context.make_tuple(builder, signature.return_type,
                                  (builder.extract_element(out, lane0),
                                   builder.extract_element(out, lane1)))

    return sig, codegen


@intrinsic
def slope_pair(typingctx, rise_a, rise_b, dist, half_c):
    """``(rise_a/dist − dist·half_c, rise_b/dist − dist·half_c)`` in two lanes (floats, the
    same values as the two scalar expressions): a bound and a candidate of the ray walk's
    receiver horizon at one distance."""
    f64 = types.float64
    sig = types.UniTuple(f64, 2)(f64, f64, f64, f64)

    def codegen(context, builder, signature, args):
        vec = ir.VectorType(ir.DoubleType(), 2)
        lane0 = ir.Constant(ir.IntType(32), 0)
        lane1 = ir.Constant(ir.IntType(32), 1)

        def pack(x, y):
            v = builder.insert_element(ir.Constant(vec, ir.Undefined), x, lane0)
            return builder.insert_element(v, y, lane1)

        ra, rb, d, hc = args
        dist = pack(d, d)
        out = builder.fsub(builder.fdiv(pack(ra, rb), dist), builder.fmul(dist, pack(hc, hc)))
        return context.make_tuple(builder, signature.return_type,
                                  (builder.extract_element(out, lane0),
                                   builder.extract_element(out, lane1)))

    return sig, codegen
