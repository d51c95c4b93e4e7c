"""Float32 handlers beside the integer ones: ``register_float`` and the per-operator ``DtypeDispatch``.

A float32 kernel lives in ``ops/float_*.py`` (C in ``ek_float*.c``) as a :class:`FloatOpHandler`; decorating it with
:func:`register_float` makes the opcode's REGISTRY entry a :class:`DtypeDispatch`, which sends each operator to the
float handler when that ``claims`` it and to the opcode's integer handler otherwise. Integer handlers are not
edited, and modules may be imported in any order (``base.register`` keeps an existing dispatch's float side).
"""

from __future__ import annotations

from typing import Any

from edgekit.codegen.aot.ops.base import REGISTRY, OpContext, OpHandler


def is_float_op(ctx: OpContext) -> bool:
    """True when the operator computes in float32: its first input or first output is a float32 tensor."""
    first = ctx.input(0)
    return (first is not None and first.dtype == "float32") or bool(
        ctx.op.outputs and ctx.output(0).dtype == "float32")


class DtypeDispatch(OpHandler):
    """The REGISTRY entry of an opcode with a float32 handler (``register_float``) beside its integer one.

    Each call goes to the float handler when it ``claims`` the operator, else to the integer handler (``default``);
    an opcode TFLM runs in float32 only has no default, and an integer operator of it is refused.
    """

    def __init__(self, opcode: str, default: OpHandler | None, float_handler: OpHandler) -> None:
        self.opcodes = (opcode,)
        self.default = default
        self.float_handler = float_handler

    def pick(self, ctx: OpContext) -> OpHandler:
        """The handler for this operator (``ctx.fail`` when only a float32 kernel exists and it is not float)."""
        if self.float_handler.claims(ctx) or self.default is None:
            if self.default is None and not self.float_handler.claims(ctx):
                first = ctx.input(0)
                ctx.fail(f"input has dtype {first.dtype if first is not None else 'none'}; supported: float32")
            return self.float_handler
        return self.default

    def check(self, ctx: OpContext) -> None:
        self.pick(ctx).check(ctx)

    def emit(self, ctx: OpContext) -> str:
        return self.pick(ctx).emit(ctx)

    def scratch_bytes(self, ctx: OpContext) -> int:
        return self.pick(ctx).scratch_bytes(ctx)

    def scratch_options(self, ctx: OpContext) -> list[int]:
        return self.pick(ctx).scratch_options(ctx)

    def inplace(self, ctx: OpContext) -> bool:
        return self.pick(ctx).inplace(ctx)

    def inplace_input(self, ctx: OpContext) -> int:
        return self.pick(ctx).inplace_input(ctx)

    def __getattr__(self, name: str) -> Any:  # integer-only helpers (fusion's kernel_call, ...)
        if name in ("default", "float_handler"):
            raise AttributeError(name)
        if self.default is None:
            raise AttributeError(name)
        return getattr(self.default, name)


class FloatOpHandler(OpHandler):
    """Base class of float32 handlers (``ops/float_*.py``, kernels in ``ek_float*.c``): see ``register_float``."""

    def claims(self, ctx: OpContext) -> bool:
        """Whether this handler runs ``ctx``'s operator (default: it computes in float32, ``is_float_op``)."""
        return is_float_op(ctx)


FLOAT_REGISTRY: dict[str, FloatOpHandler] = {}


def register_float(handler_cls: type[FloatOpHandler]) -> type[FloatOpHandler]:
    """Class decorator: the float32 handler of its opcodes, beside (not instead of) their integer handlers.

    The REGISTRY entry of each opcode becomes a :class:`DtypeDispatch` that picks per operator, so the integer
    handlers stay untouched and modules may be imported in any order.
    """
    if not handler_cls.opcodes:
        raise TypeError(f"{handler_cls.__name__}.opcodes is empty")
    instance = handler_cls()
    for opcode in handler_cls.opcodes:
        FLOAT_REGISTRY[opcode] = instance
        current = REGISTRY.get(opcode)
        if isinstance(current, DtypeDispatch):
            current.float_handler = instance
        else:
            REGISTRY[opcode] = DtypeDispatch(opcode, current, instance)
    return handler_cls
