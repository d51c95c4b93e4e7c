"""``edgekit.generate``: one entry point above the generators, one result type.

It picks what to write for a model and a board: edgekit's AOT runtime in a firmware project
(:mod:`edgekit.codegen.project`), a TensorFlow Lite Micro project in the board's own build system
(:mod:`edgekit.codegen.tflm_project`), or a LiteRT bundle for a Linux board (:mod:`edgekit.sbc.bundle`).
With ``runtime="auto"`` (the default) a microcontroller gets edgekit's runtime when that runtime can run every
operator of the model on the board, and a TFLM project otherwise; :attr:`Generated.reason` says why.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit.errors import EdgekitError, UsageError

if TYPE_CHECKING:
    from edgekit.boards import BoardProfile
    from edgekit.tflite_model import TFLiteModel

__all__ = ["RUNTIMES", "Generated", "RuntimeChoice", "choose_runtime", "generate"]

# what --runtime accepts; "litert" is what Linux boards get whatever is asked (there is no firmware there)
RUNTIMES = ("auto", "edgekit", "tflm")
DEFAULT_STACK_BYTES = 8192


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime a model gets on a board, and why."""

    runtime: str  # "edgekit", "tflm" or "litert"
    reason: str


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` wrote, whatever the kind.

    ``kind`` is ``"firmware"`` (a project to build and flash) or ``"bundle"`` (a Linux board's LiteRT bundle);
    ``summary`` holds the facts of that kind (arena, weights and stack bytes; the TFLM arena measurement and
    ops; the bundle's machine and Python).
    """

    kind: str
    runtime: str
    project_dir: Path
    board: str
    name: str
    model_name: str
    model_sha256: str
    files: tuple[str, ...]
    next_step: str
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def arena_bytes(self) -> int | None:
        """The tensor arena the firmware reserves (None for a bundle)."""
        value = self.summary.get("arena_bytes")
        return int(value) if value is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``edgekit generate --json``)."""
        return {"kind": self.kind, "runtime": self.runtime, "project_dir": str(self.project_dir),
                "board": self.board, "name": self.name, "model_name": self.model_name,
                "model_sha256": self.model_sha256, "reason": self.reason, "next_step": self.next_step,
                "files": list(self.files), "summary": self.summary}


def choose_runtime(model: TFLiteModel, board: BoardProfile, runtime: str = "auto",
                   build_system: str | None = None) -> RuntimeChoice:
    """The runtime ``generate`` uses for ``model`` on ``board``.

    ``auto``: edgekit's runtime when it can be built for the board (its bare-metal firmware or the board's SDK,
    ``build_system`` if given) and its code generator supports every operator of the model, else TFLM. An explicit
    ``edgekit`` or ``tflm`` is taken as asked (errors come from the generator). Linux boards always get a LiteRT
    bundle.

    Raises:
        UsageError: an unknown runtime name, or a ``build_system`` edgekit's runtime cannot use on the board.
    """
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime '{runtime}' (choices: {', '.join(RUNTIMES)})")
    if board.kind in ("sbc", "host"):
        return RuntimeChoice("litert", f"'{board.id}' is a Linux board: the model runs there with LiteRT")
    if runtime != "auto":
        return RuntimeChoice(runtime, "asked for")
    if build_system is not None:  # asked for a build system: it must be one edgekit's runtime can use on the board
        from edgekit.codegen.aot_project import choose_build_system

        choose_build_system(board, build_system)
    blocker = edgekit_blocker(model, board, build_system)
    if blocker is None:
        return RuntimeChoice("edgekit", "edgekit's runtime runs every operator of the model on this board")
    return RuntimeChoice("tflm", f"edgekit's runtime cannot run it: {blocker}")


def edgekit_blocker(model: TFLiteModel, board: BoardProfile, build_system: str | None = None) -> str | None:
    """Why edgekit's AOT runtime cannot run ``model`` on ``board`` (None: it can): in edgekit's bare-metal firmware
    where its core drives the board, else in the board's SDK (:mod:`edgekit.codegen.aot_project`)."""
    from edgekit.codegen.aot import check_supported
    from edgekit.codegen.aot_project import choose_build_system
    from edgekit.codegen.common import check_board

    try:
        if choose_build_system(board, build_system).name == "cmake":
            check_board(board)
        check_supported(model)
    except EdgekitError as exc:
        return exc.message
    return None


def generate(model: TFLiteModel | str | os.PathLike[str] | bytes, board: str | BoardProfile = "qemu-cortex-m4",
             runtime: str = "auto", *, out_dir: str | os.PathLike[str], name: str | None = None,
             boards_dirs: Iterable[str | os.PathLike[str]] | None = None,
             stack_bytes: int = DEFAULT_STACK_BYTES, arena_margin: str | int | float | None = None,
             sparse: str = "auto", build_system: str | None = None, trust_pickle: bool = False,
             tree_code: str = "table", weights: str = "auto", flash_wait_states: int | None = None) -> Generated:
    """Generate what runs ``model`` on ``board`` into ``out_dir``: a firmware project or a Linux bundle.

    Args:
        model: a .tflite path, its bytes, or a loaded :class:`~edgekit.tflite_model.TFLiteModel`; or a tree model
            (:mod:`edgekit.trees`: a scikit-learn pickle, an XGBoost .json/.ubj, a LightGBM text model, or a
            loaded :class:`~edgekit.trees.TreeModel`), which becomes table-driven C on edgekit's runtime.
        board: a board id or profile.
        runtime: ``"auto"`` (see :func:`choose_runtime`), ``"edgekit"`` (AOT C) or ``"tflm"``.
        out_dir: replaced if it holds an earlier edgekit project, refused if it holds anything else.
        name: the project name (a C identifier; default: from the model file name).
        boards_dirs: extra board directories.
        stack_bytes: stack reserved by the firmware's linker script.
        arena_margin: TFLM projects: margin over the measured arena (default ``"10%+1KB"``).
        sparse: edgekit's runtime: sparse weights where faster (``"auto"``), ``"off"`` or ``"force"``.
        weights: edgekit's runtime on DSP cores: int8 or int16 weights per CONV_2D / FULLY_CONNECTED layer by the
            cycle model at the board's flash wait states (``"auto"``), or ``"int8"`` / ``"int16"`` everywhere
            (:mod:`edgekit.codegen.aot.variants`).
        flash_wait_states: the flash wait states that choice assumes (default: the board profile's).
        build_system: edgekit's runtime: the project's build system (default: edgekit's bare-metal CMake firmware
            where its core drives the board, else the board's SDK; see :mod:`edgekit.codegen.aot_project`).
        trust_pickle: load a pickled (joblib) tree model: loading a pickle runs code from the file, so it is refused
            without this.
        tree_code: tree models: ``"table"`` (splits as data, one loop; compact) or ``"ifelse"`` (nested ifs; faster,
            larger).

    Raises:
        UsageError: an unknown runtime, an option that does not apply to the runtime asked for, a bad name or
            out_dir, a board that cannot run the runtime asked for.
        ModelError / UnsupportedOpError: an unreadable model, or one the runtime asked for cannot run.
    """
    from edgekit.boards import load_board
    from edgekit.tflite_model import TFLiteModel, load_model
    from edgekit.trees.load import is_tree_model

    profile = load_board(board, boards_dirs)
    if not isinstance(model, (TFLiteModel, bytes)) and is_tree_model(model):
        return _generate_trees(model, profile, runtime, out_dir=out_dir, name=name, stack_bytes=stack_bytes,
                               arena_margin=arena_margin, sparse=sparse, build_system=build_system,
                               trust_pickle=trust_pickle, tree_code=tree_code)
    if tree_code != "table":
        raise UsageError("--tree-code applies to tree models only", hint="drop --tree-code")
    m = model if isinstance(model, TFLiteModel) else load_model(model)
    choice = choose_runtime(m, profile, runtime, build_system)
    chosen = "" if runtime != "auto" else f" (runtime auto chose {choice.runtime}: {choice.reason})"
    if choice.runtime == "tflm" and build_system not in (None, profile.build.system):
        raise UsageError(f"--build-system applies to the edgekit runtime only (TFLM projects for {profile.id} use "
                         f"{profile.build.system}){chosen}", hint="drop --build-system or use --runtime edgekit")
    if choice.runtime == "tflm" and sparse != "auto":
        raise UsageError(f"--sparse applies to the edgekit runtime only{chosen}",
                         hint="drop --sparse or use --runtime edgekit")
    if choice.runtime == "tflm" and weights != "auto":
        raise UsageError(f"--weights applies to the edgekit runtime only{chosen}",
                         hint="drop --weights or use --runtime edgekit")
    if choice.runtime == "edgekit" and arena_margin is not None:
        raise UsageError("--arena-margin applies to the TFLM runtime only (the edgekit runtime's arena is exact)"
                         f"{chosen}", hint="drop --arena-margin or use --runtime tflm")
    if choice.runtime == "litert":
        from edgekit.sbc.bundle import generate_bundle

        b = generate_bundle(m, profile, out_dir, name=name, boards_dirs=boards_dirs)
        return Generated("bundle", "litert", b.bundle_dir, b.board, b.name, b.model_file, b.model_sha256, b.files,
                         f"edgekit bench {b.bundle_dir} --board {b.board} --host local|user@host", choice.reason,
                         {"machine": b.machine, "python": b.python, "litert": b.runtime.to_dict()})
    if choice.runtime == "tflm":
        from edgekit.codegen.tflm_project import generate_tflm

        extra = {} if arena_margin is None else {"arena_margin": arena_margin}
        s = generate_tflm(m, profile, out_dir, name=name, stack_bytes=stack_bytes, boards_dirs=boards_dirs, **extra)
        return Generated("firmware", "tflm", Path(s["project_dir"]), profile.id, s["name"], s["model_name"],
                         m.sha256, tuple(s["files"]), f"edgekit build {s['project_dir']}", choice.reason,
                         {k: v for k, v in s.items() if k not in ("project_dir", "name", "model_name", "files")})
    from edgekit.codegen.project import generate_aot

    r = generate_aot(m, profile, out_dir=out_dir, name=name, stack_bytes=stack_bytes, sparse=sparse,
                     weights=weights, flash_wait_states=flash_wait_states, build_system=build_system)
    return Generated("firmware", "edgekit", r.project_dir, r.board, r.name, r.model_name, r.model_sha256, r.files,
                     f"edgekit build {r.project_dir}", choice.reason,
                     {"arena_bytes": r.arena_bytes, "weights_bytes": r.weights_bytes, "input_bytes": r.input_bytes,
                      "stack_bytes": r.stack_bytes, "build_system": r.build_system, "elf": r.elf,
                      "kernel_variants": r.kernel_variants})


def _generate_trees(model: Any, profile: BoardProfile, runtime: str, *, out_dir: str | os.PathLike[str],
                    name: str | None, stack_bytes: int, arena_margin: Any, sparse: str, build_system: str | None,
                    trust_pickle: bool, tree_code: str) -> Generated:
    """A tree model: its ensemble as C on edgekit's runtime (:mod:`edgekit.trees.project`)."""
    from edgekit.trees.load import load_tree_model
    from edgekit.trees.project import generate_trees

    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime '{runtime}' (choices: {', '.join(RUNTIMES)})")
    if runtime == "tflm" or arena_margin is not None or sparse != "auto":
        raise UsageError("a tree model runs on edgekit's runtime only (--runtime tflm, --arena-margin and --sparse "
                         "do not apply)", hint="drop those options")
    if profile.kind != "mcu":
        raise UsageError(f"board '{profile.id}' is a {profile.kind}: edgekit compiles tree models for "
                         "microcontrollers", hint="on Linux, run the model with its own library")
    tm = load_tree_model(model, trust_pickle=trust_pickle)
    r, facts = generate_trees(tm, profile, out_dir=out_dir, name=name, stack_bytes=stack_bytes,
                              build_system=build_system, code=tree_code)
    return Generated("firmware", "edgekit", r.project_dir, r.board, r.name, r.model_name, r.model_sha256, r.files,
                     f"edgekit build {r.project_dir}",
                     f"tree model ({facts['family']} {facts['task']}): compiled to "
                     f"{'table-driven' if tree_code == 'table' else 'nested-if'} C on edgekit's runtime",
                     {"arena_bytes": r.arena_bytes, "weights_bytes": r.weights_bytes, "input_bytes": r.input_bytes,
                      "stack_bytes": r.stack_bytes, "build_system": r.build_system, "elf": r.elf, "trees": facts})
