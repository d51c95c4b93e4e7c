"""Resource-variable ops: VAR_HANDLE (no code), READ_VARIABLE / ASSIGN_VARIABLE (copies between a tensor and the
variable's arena slot), CALL_ONCE (its init subgraph's constant assignments, once). See ``aot/variables.py``."""

from __future__ import annotations

from edgekit.codegen.aot.ops.base import CTYPES, OpContext, OpHandler, register


def _variable(ctx: OpContext):
    ctx.require(ctx.variables is not None, "resource variables were not analysed")
    var = ctx.variables.handles.get(ctx.op.inputs[0]) if ctx.op.inputs else None
    ctx.require(var is not None, "its resource input does not come from a VAR_HANDLE")
    return var


@register
class VarHandle(OpHandler):
    """VAR_HANDLE: resolved when the code is generated (the resource tensor is the variable's slot)."""

    opcodes = ("VAR_HANDLE",)

    def emit(self, ctx: OpContext) -> str:
        return f"/* resource variable '{ctx.options.get('shared_name', '')}' */"


@register
class ReadVariable(OpHandler):
    """READ_VARIABLE: the variable's bytes into the output tensor."""

    opcodes = ("READ_VARIABLE",)

    def check(self, ctx: OpContext) -> None:
        var = _variable(ctx)
        ctx.require(ctx.output(0).nbytes == var.nbytes,
                    f"reads {ctx.output(0).nbytes} bytes from '{var.key[1]}' of {var.nbytes} bytes")

    def emit(self, ctx: OpContext) -> str:
        var = _variable(ctx)
        return f"memcpy({ctx.ptr(ctx.op.outputs[0], 'uint8_t')}, {ctx.arena_ptr(var.slot)}, {var.nbytes}u);"


@register
class AssignVariable(OpHandler):
    """ASSIGN_VARIABLE: the value tensor's bytes into the variable."""

    opcodes = ("ASSIGN_VARIABLE",)

    def check(self, ctx: OpContext) -> None:
        var = _variable(ctx)
        ctx.require(len(ctx.op.inputs) == 2 and ctx.input(1) is not None, "expected (resource, value) inputs")
        ctx.require(ctx.input(1).nbytes == var.nbytes, f"assigns {ctx.input(1).nbytes} bytes to {var.nbytes}")

    def emit(self, ctx: OpContext) -> str:
        var = _variable(ctx)
        src = ctx.ptr(ctx.op.inputs[1], "uint8_t", role=f"assign_{var.key[1]}")
        return f"memcpy({ctx.arena_ptr(var.slot)}, {src}, {var.nbytes}u);"


@register
class CallOnce(OpHandler):
    """CALL_ONCE: the init subgraph's constant assignments at the first invocation after ``model_init``."""

    opcodes = ("CALL_ONCE",)

    def check(self, ctx: OpContext) -> None:
        ctx.require(ctx.variables is not None and ctx.op.index in ctx.variables.inits, "init subgraph not analysed")

    def emit(self, ctx: OpContext) -> str:
        v = ctx.variables
        flag = ctx.arena_ptr(v.flags[ctx.op.index])
        sg = v.init_subgraphs[ctx.op.index]
        lines = [f"if (*{flag} == 0u) {{"]
        for var, t in v.inits[ctx.op.index]:
            tensor = sg.tensors[t]
            ctype = CTYPES.get(tensor.dtype, "uint8_t")
            name = ctx.const_array(f"{ctx.ident}_init_{var.key[1]}", tensor.array(), ctype)
            lines.append(f"    memcpy({ctx.arena_ptr(var.slot)}, {name}, {var.nbytes}u);")
        lines += [f"    *{flag} = 1u;", "}"]
        return "\n".join(lines)
