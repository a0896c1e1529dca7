"""Compiled DSP kernels (numba): how every kernel is built, and the helpers they share.

- ``kernel``: a kernel called from Python, for the argument types it declares (cached on disk,
  see below), made ready by ``ready`` when its part is built;
- ``inlined``: a helper of kernels, compiled into each kernel that calls it;
- ``projection``: samples times a basis as 8-lane vectors (LLVM leaves that loop scalar).

``kernel(*signatures)(func)`` is ``numba.njit(cache=True, nogil=True)``: nopython mode, no fastmath
(results are reproducible, operation for operation), the machine code cached on disk
(numba's ``NUMBA_CACHE_DIR``; the appliance sets ``/var/lib/linebox/numba-cache`` and warms
it at install, see board/install.sh) so that a start-up loads it instead of compiling.

numba refuses ``cache=True`` at decoration time ("no locator available") when neither
``NUMBA_CACHE_DIR`` nor the source's ``__pycache__`` nor the user's cache folder can be
written. That must never stop the engine from starting: the kernel is then built without
a disk cache (compiled by ``ready`` in each process) after a one-line warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils, sigutils
from numba.extending import intrinsic

from dsp import DspError

_SAMPLE_TYPES = (types.int16, types.float32, types.float64)


def _is_index(at: Any, array: Any) -> bool:
    """``at`` types a tuple of integers, one per dimension of ``array``."""
    return isinstance(at, types.BaseTuple) and len(at) == array.ndim and all(isinstance(t, types.Integer) for t in at)


def _indices(context: Any, builder: Any, at_type: Any, at: Any) -> list:
    """The values of index tuple ``at`` as intp."""
    values = cgutils.unpack_tuple(builder, at, len(at_type))
    return [context.cast(builder, value, t, types.intp) for value, t in zip(values, at_type, strict=True)]


class KernelCacheWarning(UserWarning):
    """A compiled kernel cannot be cached on disk: it compiles on first use instead."""


def kernel(*signatures: str | tuple[Any, ...]) -> Callable[[Callable[..., Any]], Any]:
    """A decorator: ``func`` compiled by numba (nopython, nogil), cached on disk when a cache is
    writable, for exactly ``signatures``: numba's argument-type strings, e.g.
    ``"(int16[:, ::1], float32[::1])"`` (``::1`` a C-contiguous dimension, ``:`` any strides),
    or tuples of numba types (what a string cannot say, e.g. a read-only array).

    Nothing is compiled at import: :func:`ready` compiles the declared signatures (or loads
    them from the cache) when the part using the kernel is built, then turns the kernel's
    compilation off. A call with other argument types is then a TypeError at once (a bug for
    the tests to find), never a compile of seconds on the media loop's thread. An array of
    any layout is accepted where a signature says ``:`` (numba converts C to A without a
    compile)."""
    if not signatures:
        raise DspError("kernel: declare the argument types it accepts")
    declared = tuple(sigutils.normalize_signature(signature)[0] for signature in signatures)

    def build(func: Callable[..., Any]) -> Any:
        try:
            dispatcher = numba.njit(cache=True, nogil=True)(func)
        except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available ..."
            warnings.warn(
                f"{func.__module__}.{func.__qualname__}: no writable numba cache ({exc}); compiling when"
                " built (set NUMBA_CACHE_DIR to a writable folder)",
                KernelCacheWarning,
                stacklevel=2,
            )
            dispatcher = numba.njit(cache=False, nogil=True)(func)
        dispatcher.declared_signatures = declared
        return dispatcher

    return build


def ready(*kernels: Any) -> None:
    """Compiles (or loads from numba's cache) each declared signature of each of ``kernels``
    (made by :func:`kernel`) not compiled yet, then disables their compilation. Cheap once done
    (a part calls it from its constructor)."""
    for dispatcher in kernels:
        declared = dispatcher.declared_signatures
        if all(signature in dispatcher.overloads for signature in declared):
            continue  # ready already (numba refuses even a compiled signature once disabled)
        for signature in declared:
            dispatcher.compile(signature)
        dispatcher.disable_compile()


def inlined(func: Callable[..., Any]) -> Any:
    """A helper of kernels, compiled into each kernel that calls it (numba's inlining):
    no call and no reference counting of the arrays it is passed. Cached with its caller."""
    return numba.njit(inline="always", nogil=True)(func)


def projection(samples: int, vectors: int, row: int, keep: bool = False) -> Any:
    """A compiled helper ``project(x, x_at, basis, basis_at, out, out_at) -> energy`` for
    kernels (with ``keep``: ``project(..., out_at, kept, kept_at)``, which also writes the
    samples, as float32, to ``kept[kept_at:]``): with ``L = 8 vectors``, ``X = x[x_at:]``,
    ``B = basis[basis_at:]`` seen as rows of ``row`` values and ``O = out[out_at:]`` (``*_at``: tuples of indices, one
    per dimension), ``O[l] = Σ_j X[j] · B[j, l]`` for ``l < L`` and ``j < samples``; it
    returns ``Σ_j X[j]²``. All float32 (``x`` may be int16 or float64: each sample is
    first converted to float32, exactly for int16, rounded to nearest for float64); each
    ``O[l]`` summed in the order of ``j``, the squares 8 lanes at a time then the lanes
    pairwise. ``samples`` must be a multiple of 8.

    That is a plain loop's arithmetic, operation for operation (separate multiply and add,
    no reassociation, so the same on every machine), written as 8-lane vectors because
    LLVM does not vectorize that loop by itself (a sum over ``j`` must not be reordered,
    and the lanes' accumulators live in an array it cannot prove apart from ``basis``).
    Elements are addressed by index, so no array view is made (a view costs two
    reference-count updates). The arrays must be C-contiguous, ``basis`` and ``out``
    float32; their sizes are the caller's to check (nothing is bounds-checked)."""

    if samples % 8:
        raise DspError(f"projection: samples must be a multiple of 8, got {samples}")

    def typed(x: Any, x_at: Any, basis: Any, basis_at: Any, out: Any, out_at: Any, *kept: Any) -> Any:
        arrays = [(x, x_at, _SAMPLE_TYPES), (basis, basis_at, (types.float32,)), (out, out_at, (types.float32,))]
        if keep:
            arrays.append((kept[0], kept[1], (types.float32,)))
        for arg, at, dtypes in arrays:
            if not (isinstance(arg, types.Array) and arg.dtype in dtypes and arg.layout == "C"):
                raise numba.core.errors.TypingError(f"project: C-contiguous arrays of {dtypes}, got {arg}")
            if not _is_index(at, arg):
                raise numba.core.errors.TypingError(f"project: one index per dimension of {arg}, got {at}")
        return types.float32(x, x_at, basis, basis_at, out, out_at, *kept), codegen

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        def pointer(k: int) -> Any:
            array_type, at_type = sig.args[k], sig.args[k + 1]
            array = context.make_array(array_type)(context, builder, args[k])
            indices = _indices(context, builder, at_type, args[k + 1])
            return cgutils.get_item_pointer(context, builder, array_type, array, indices), array

        x_ptr, _ = pointer(0)
        basis_ptr, _ = pointer(2)
        out_ptr, _ = pointer(4)
        kept_ptr = pointer(6)[0] if keep else None
        row_bytes = ir.Constant(ir.IntType(64), row * 4)
        f32 = ir.FloatType()
        i32, i64 = ir.IntType(32), ir.IntType(64)
        vector = ir.VectorType(f32, 8)
        undef = ir.Constant(vector, ir.Undefined)
        sums = [ir.Constant(vector, [0.0] * 8) for _ in range(vectors)]
        byte_ptr = ir.IntType(8).as_pointer()
        # The samples, 8 at a time, as float32 (kept if asked), and their squares' sum:
        # lane by lane over the groups of 8, then the lanes pairwise (a fixed order).
        source = sig.args[0].dtype
        source_vector = ir.VectorType(context.get_data_type(source), 8)
        groups = []
        squares = None
        for g in range(samples // 8):
            at = builder.bitcast(builder.gep(x_ptr, [ir.Constant(i64, 8 * g)]), source_vector.as_pointer())
            group = builder.load(at, align=context.get_abi_sizeof(context.get_data_type(source)))
            if source == types.int16:
                group = builder.sitofp(group, vector)
            elif source == types.float64:
                group = builder.fptrunc(group, vector)
            if kept_ptr is not None:
                kept_at = builder.bitcast(builder.gep(kept_ptr, [ir.Constant(i64, 8 * g)]), vector.as_pointer())
                builder.store(group, kept_at, align=4)
            square = builder.fmul(group, group)
            squares = square if squares is None else builder.fadd(squares, square)
            groups.append(group)
        lanes = [builder.extract_element(squares, ir.Constant(i32, lane)) for lane in range(8)]
        while len(lanes) > 1:
            lanes = [builder.fadd(lanes[k], lanes[k + 1]) for k in range(0, len(lanes), 2)]
        energy = lanes[0]
        for j in range(samples):
            splat = builder.shuffle_vector(groups[j // 8], undef, ir.Constant(ir.VectorType(i32, 8), [j % 8] * 8))
            offset = builder.mul(row_bytes, ir.Constant(i64, j))
            row_ptr = builder.bitcast(builder.gep(builder.bitcast(basis_ptr, byte_ptr), [offset]), f32.as_pointer())
            for v in range(vectors):
                at = builder.bitcast(builder.gep(row_ptr, [ir.Constant(i64, 8 * v)]), vector.as_pointer())
                sums[v] = builder.fadd(sums[v], builder.fmul(splat, builder.load(at, align=4)))
        for v in range(vectors):
            at = builder.bitcast(builder.gep(out_ptr, [ir.Constant(i64, 8 * v)]), vector.as_pointer())
            builder.store(sums[v], at, align=4)
        return energy

    if keep:

        @intrinsic
        def project_keeping(
            typingctx: Any, x: Any, x_at: Any, basis: Any, basis_at: Any, out: Any, out_at: Any, kept: Any, kept_at: Any
        ) -> Any:
            return typed(x, x_at, basis, basis_at, out, out_at, kept, kept_at)

        return project_keeping

    @intrinsic
    def project(typingctx: Any, x: Any, x_at: Any, basis: Any, basis_at: Any, out: Any, out_at: Any) -> Any:
        return typed(x, x_at, basis, basis_at, out, out_at)

    return project

