"""``edgekit generate MODEL --board ID -o DIR``: render a firmware project (CMake) for a model and a board."""

from __future__ import annotations

import os

import click

from edgekit.cli import echo_json
from edgekit.generation import RUNTIMES


@click.command(name="generate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--board", "board", default="qemu-cortex-m4", show_default=True, help="Board id (edgekit boards list).")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="auto", show_default=True,
              help="auto: edgekit's runtime when it runs every op of the model on the board, else TFLM; edgekit: "
                   "interpreter-less C (AOT); tflm: a TensorFlow Lite Micro project in the board's build system "
                   "(its CMake build needs a tflite-micro tree: EDGEKIT_TFLM_DIR or 'edgekit build --tflm-fetch').")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Project directory (created; an earlier edgekit project there is replaced).")
@click.option("--name", default=None, help="Project name (a C identifier; default: from the model file name).")
@click.option("--stack-kb", type=click.IntRange(1, 1024), default=8, show_default=True,
              help="Stack reserved for the firmware, in KB.")
@click.option("--arena-margin", default=None, metavar="SPEC",
              help="TFLM runtime: margin added to the measured arena, e.g. '10%+1KB' (the default), '2048', '25%'.")
@click.option("--sparse", type=click.Choice(["auto", "off", "force"]), default="auto", show_default=True,
              help="edgekit runtime: sparse weights for CONV_2D / FULLY_CONNECTED where faster (auto), never, or "
                   "wherever possible (force).")
@click.option("--weights", type=click.Choice(["auto", "int8", "int16"]), default="auto", show_default=True,
              help="edgekit runtime on DSP cores (M4/M7/M33): int8 or int16 (widened) weights per CONV_2D / "
                   "FULLY_CONNECTED layer, by the cycle model at the board's flash wait states (auto), or everywhere.")
@click.option("--build-system", "build_system", default=None, metavar="NAME",
              help="edgekit runtime: the project's build system (default: edgekit's bare-metal CMake project where "
                   "its firmware core drives the board, else the board's own SDK; e.g. zephyr for nrf52840dk).")
@click.option("--trust-pickle", is_flag=True,
              help="Tree models: load a pickled (joblib/.pkl) scikit-learn model. Loading a pickle runs code from "
                   "the file: only for files you made or trust.")
@click.option("--tree-code", type=click.Choice(["table", "ifelse"]), default="table", show_default=True,
              help="Tree models: the splits as tables walked by one loop (compact), or as nested ifs (fewer "
                   "instructions, more flash).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def cmd(ctx: click.Context, model: str, board: str, runtime: str, out_dir: str, name: str | None, stack_kb: int,
        arena_margin: str | None, sparse: str, weights: str, build_system: str | None, trust_pickle: bool,
        tree_code: str, as_json: bool) -> None:
    """Generate a firmware project for MODEL on a board; build it with 'edgekit build DIR'.

    MODEL: an int8 .tflite; or a tree model (scikit-learn DecisionTree/RandomForest/ExtraTrees/GradientBoosting/
    HistGradientBoosting pickled with joblib, with --trust-pickle; XGBoost .json/.ubj; LightGBM text model).
    """
    from edgekit.generation import generate

    res = generate(model, board, runtime, out_dir=out_dir, name=name, arena_margin=arena_margin,
                   boards_dirs=(ctx.obj or {}).get("boards_dirs"), stack_bytes=stack_kb * 1024,
                   sparse=sparse, build_system=build_system, trust_pickle=trust_pickle, tree_code=tree_code,
                   weights=weights)
    if as_json:
        echo_json(res.to_dict())
        return
    what = "bundle" if res.kind == "bundle" else "project"
    click.echo(f"generated {what} {res.project_dir} ({res.board}, runtime {res.runtime}, model {res.model_name}, "
               f"{len(res.files)} files)")
    if runtime == "auto" and res.kind == "firmware":
        click.echo(f"  runtime {res.runtime}: {res.reason}")
    s = res.summary
    if "trees" in s:
        t = s["trees"]
        click.echo(f"  {t['family']} {t['task']}: {t['n_trees']} trees, {t['internal_nodes']:,} splits, "
                   f"{t['leaves']:,} leaves, depth {t['max_depth']}; {t['code']} code, "
                   f"tables {t['table_bytes']:,} B (flash), "
                   f"buffers {s['arena_bytes']:,} B (RAM); outputs {', '.join(t['outputs'])}")
    elif res.runtime == "edgekit":
        stack = f"{s['stack_bytes']:,} B" if s["build_system"] == "cmake" else "the SDK's"
        click.echo(f"  {s['build_system']} project, arena {s['arena_bytes']:,} B (exact), weights "
                   f"{s['weights_bytes']:,} B, input {s['input_bytes']:,} B, stack {stack}")
        for v in s.get("kernel_variants") or []:
            click.echo(f"  op {v['op']} {v['opcode']}: {v['variant']} weights ({v['kernel']}): {v['reason']}")
    elif res.runtime == "tflm":
        click.echo(f"  {s['build_system']} project, arena {s['arena_bytes']:,} B (TFLM measured "
                   f"{s['arena_measured']:,} B + margin)")
    needs = (" (compiles TFLM from EDGEKIT_TFLM_DIR, or add --tflm-fetch; README.md 'TFLM projects')"
             if res.runtime == "tflm" and s.get("build_system") == "cmake" and not os.environ.get("EDGEKIT_TFLM_DIR")
             else "")
    click.echo(f"next: {res.next_step}{needs}")
