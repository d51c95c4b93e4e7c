"""Resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, CALL_ONCE) laid out as TFLM keeps them.

TFLM identifies a variable by its VAR_HANDLE's (container, shared_name); the first ASSIGN_VARIABLE prepared for it
(subgraphs in order, then operators in order) fixes its size and its reset value (the int8 zero point of the
assigned tensor when it is quantized, else 0: ``MicroResourceVariables::Allocate``), and every interpreter reset
fills it with that value. CALL_ONCE runs its init subgraph at the first invocation only.

Here every variable is a buffer of the static arena that lives for the whole program (a "slot": a pseudo tensor
index past the model's tensors, planned as persistent), reset by ``model_init``; so is the one-byte "has run" flag
of each CALL_ONCE. Init subgraphs may only assign constants to variables (what the converter emits): they become
``memcpy`` calls from flash behind the flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from edgekit.codegen.aot.ops.base import short_name, unsupported

if TYPE_CHECKING:
    from edgekit.codegen.aot.plan import MemoryPlan
    from edgekit.tflite_model import Operator, Subgraph, TFLiteModel

NO_OUTPUT_OPS = ("ASSIGN_VARIABLE", "CALL_ONCE")


@dataclass
class Variable:
    """One resource variable: its arena slot, size and reset byte."""

    key: tuple[str, str]  # (container, shared_name)
    slot: int
    nbytes: int = -1
    fill: int = 0


@dataclass
class Variables:
    """The resource variables of a model and where the generated code keeps them."""

    by_key: dict[tuple[str, str], Variable] = field(default_factory=dict)
    handles: dict[int, Variable] = field(default_factory=dict)  # main-subgraph VAR_HANDLE output -> variable
    flags: dict[int, int] = field(default_factory=dict)  # CALL_ONCE op index -> slot of its one-byte flag
    inits: dict[int, list[tuple[Variable, int]]] = field(default_factory=dict)  # CALL_ONCE op -> (var, const tensor)
    init_subgraphs: dict[int, Subgraph] = field(default_factory=dict)  # CALL_ONCE op index -> its init subgraph

    def slot_sizes(self) -> dict[int, int]:
        """Bytes of every slot (variables and flags), for the memory plan."""
        sizes = {v.slot: v.nbytes for v in self.by_key.values()}
        sizes.update({slot: 1 for slot in self.flags.values()})
        return sizes

    def resets(self) -> list[tuple[int, int, int, str]]:
        """(slot, byte value, bytes, description) of what ``model_init`` fills."""
        out = [(v.slot, v.fill, v.nbytes, f"resource variable '{v.key[1]}'") for v in self.by_key.values()]
        out += [(slot, 0, 1, f"CALL_ONCE op {op} has run") for op, slot in self.flags.items()]
        return out


def analyse(model: TFLiteModel, supported: list[str]) -> Variables:
    """The model's resource variables; raises UnsupportedOpError for subgraphs other than constant init subgraphs."""
    main = model.main
    result = Variables()
    next_slot = max(len(sg.tensors) for sg in model.subgraphs)

    def fail(op: Operator, sg: Subgraph, why: str):
        name = sg.tensors[op.outputs[0]].name if op.outputs else f"op{op.index}"
        return unsupported(op, name, why, supported)

    def variable(op: Operator) -> Variable:
        nonlocal next_slot
        key = (str(op.options.get("container", "") or ""), str(op.options.get("shared_name", "") or ""))
        if key not in result.by_key:
            result.by_key[key] = Variable(key=key, slot=next_slot)
            next_slot += 1
        return result.by_key[key]

    def handles_of(sg: Subgraph) -> dict[int, Variable]:
        return {op.outputs[0]: variable(op) for op in sg.operators if op.opcode == "VAR_HANDLE" and op.outputs}

    used: set[int] = set()
    for op in main.operators:
        if op.opcode == "CALL_ONCE":
            idx = int(op.options.get("init_subgraph_index", 0))
            if not 0 < idx < len(model.subgraphs):
                raise fail(op, main, f"init subgraph {idx} does not exist")
            result.init_subgraphs[op.index] = model.subgraphs[idx]
            result.flags[op.index] = -1
            used.add(idx)
    extra = [k for k in range(1, len(model.subgraphs)) if k not in used]
    if extra and main.operators:
        raise fail(main.operators[0], main, f"model has {len(model.subgraphs)} subgraphs; subgraph {extra[0]} is "
                   "not a CALL_ONCE init subgraph (control flow such as WHILE / IF is not supported)")
    result.handles = handles_of(main)
    order = [(main, result.handles)] + [(sg, handles_of(sg)) for sg in result.init_subgraphs.values()]
    for sg, handles in order:  # sizes and reset values from the first assignment, as TFLM's Prepare order
        for op in sg.operators:
            if op.opcode not in ("ASSIGN_VARIABLE", "READ_VARIABLE"):
                continue
            var = handles.get(op.inputs[0]) if op.inputs else None
            if var is None:
                raise fail(op, sg, "its resource input does not come from a VAR_HANDLE of the same subgraph")
            if op.opcode == "ASSIGN_VARIABLE":
                if len(op.inputs) != 2 or not 0 <= op.inputs[1] < len(sg.tensors):
                    raise fail(op, sg, "expected (resource, value) inputs")
                value = sg.tensors[op.inputs[1]]
                if var.nbytes < 0:
                    q = value.quantization
                    var.nbytes = value.nbytes
                    var.fill = int(np.int8(np.int64(q.zero_point[0]) & 0xFF)) if q and q.zero_point else 0
                elif value.nbytes != var.nbytes:
                    raise fail(op, sg, f"assigns {value.nbytes} bytes to '{var.key[1]}' of {var.nbytes} bytes")
    for var in result.by_key.values():
        if var.nbytes < 0:
            raise fail(main.operators[0], main, f"resource variable '{var.key[1]}' is never assigned")
    for op_index, sg in result.init_subgraphs.items():
        handles = handles_of(sg)
        assigns = []
        for op in sg.operators:
            if op.opcode == "VAR_HANDLE":
                continue
            if op.opcode != "ASSIGN_VARIABLE" or not sg.tensors[op.inputs[1]].is_const:
                raise fail(op, sg, "a CALL_ONCE init subgraph may only assign constants to resource variables")
            assigns.append((handles[op.inputs[0]], op.inputs[1]))
        result.inits[op_index] = assigns
        result.flags[op_index] = next_slot
        next_slot += 1
    return result


def reset_code(sg: Subgraph, plan: MemoryPlan, prefix: str, variables: Variables | None) -> str:
    """C lines of ``model_init`` that reset the variable tensors (LSTM / SVDF states) as TFLM's
    ``ResetVariableTensors``: int8 ones to their zero point, all others to 0 bytes; and the resource variables and
    CALL_ONCE flags (variables.py)."""
    lines = []
    for slot, value, nbytes, what in variables.resets() if variables is not None else ():
        lines.append(f"    memset(&{prefix}_arena[{plan.tensor_offsets[slot]}], {value}, {nbytes}u);  "
                     f"/* {_c_comment(what)} */\n")
    for t in sorted(plan.tensor_offsets):
        tensor = sg.tensors[t] if t < len(sg.tensors) else None
        if tensor is None or not tensor.is_variable:
            continue
        q = tensor.quantization
        value = int(q.zero_point[0]) if tensor.dtype == "int8" and q is not None and q.zero_point else 0
        lines.append(f"    memset(&{prefix}_arena[{plan.tensor_offsets[t]}], {value}, {tensor.nbytes}u);  "
                     f"/* variable '{_c_comment(short_name(tensor.name))}' */\n")
    return "".join(lines)


def _c_comment(s: str) -> str:
    return s.replace("*/", "* /").replace("/*", "/ *")
