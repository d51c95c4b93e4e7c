"""edgekit sweep (#19): a spec's cells built and benched on QEMU by a local process pool and by a Ray cluster the
tests start (a head and two worker nodes: separate raylets), with the same instruction counts; a worker killed
mid-cell is retried and reported; a re-run skips finished cells; bad specs name the file, line and field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, need_module, need_tool
from ray_cluster import Cluster, free_port

from edgekit.cli import run

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]


def _fc(rng: np.random.Generator, n_in: int, n_out: int, zeros: float = 0.0) -> bytes:
    from tflite_single_op import T, multi_op_model

    w = rng.integers(-127, 128, size=(n_out, n_in), dtype=np.int8)
    w[rng.random(w.shape) < zeros] = 0
    return multi_op_model([("FULLY_CONNECTED", [
        T((1, n_in), "int8", 0.05, -3), T((n_out, n_in), "int8", [0.01] * n_out, 0, w),
        T((n_out,), "int32", [0.0005] * n_out, 0, rng.integers(-2000, 2000, size=n_out, dtype=np.int32))],
        [T((1, n_out), "int8", 0.1, 2)], {})])


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 tiny models (a dense FC; a 92%-zero FC, which edgekit's runtime makes sparse with sparse=auto), each with 3
    int8 input samples, x 1 board x 2 options (sparse auto / off): 4 cells, benched and validated."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    need_module("tflite_micro")
    d = tmp_path_factory.mktemp("sweep_spec")
    rng = np.random.default_rng(19)
    (d / "dense.tflite").write_bytes(_fc(rng, 48, 16))
    (d / "pruned.tflite").write_bytes(_fc(rng, 128, 32, zeros=0.92))
    for name, n_in in (("dense", 48), ("pruned", 128)):
        np.save(d / f"{name}_x.npy", rng.integers(-128, 128, size=(3, 1, n_in), dtype=np.int8))
    (d / "sweep.yaml").write_text(
        "schema: 1\nmodels:\n  - {path: dense.tflite, inputs: dense_x.npy}\n  - {path: pruned.tflite, inputs: "
        "pruned_x.npy}\nboards: [qemu-cortex-m4]\noptions:\n  runtime: edgekit\n  sparse: [auto, \"off\"]\nruns: 3\n"
        "validate: true\nobjectives: [instructions, flash_bytes]\n")
    return d / "sweep.yaml"


def _counts(doc: dict) -> dict[str, float]:
    return {r["id"]: r["bench"]["timing"]["count"]["median"] for r in doc["cells"]}


@pytest.fixture(scope="module")
def local_run(spec: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """The spec on this machine's cores (2 workers); the first cell kills its own worker on its first attempt."""
    from edgekit.sweeps import load_spec, sweep

    out = tmp_path_factory.mktemp("sweep_local") / "out"
    marker = out.parent / "killed"
    first = load_spec(spec).cells[0].id
    res = sweep(spec, out, jobs=2, kill_once=(first, str(marker)))
    return out, res.doc, marker


def test_local_sweep_writes_rows_table_and_report(local_run: tuple[Path, dict, Path]) -> None:
    out, doc, marker = local_run
    assert doc["schema"] == "edgekit.sweep/1" and doc["executor"]["kind"] == "local"
    assert doc["counts"] == {"cells": 4, "ok": 4, "failed": 0, "resumed": 0, "retried": doc["counts"]["retried"]}
    rows = doc["cells"]
    assert [(r["model"]["name"], r["options"]["sparse"]) for r in rows] == [
        ("dense", "auto"), ("dense", "off"), ("pruned", "auto"), ("pruned", "off")]
    for r in rows:
        b = r["bench"]
        assert b["schema"] == "edgekit.bench/1" and b["board"]["id"] == "qemu-cortex-m4"  # BenchResult.to_dict()
        assert b["timing"]["basis"] == "instructions" and b["runs"] == 3
        assert r["figures"]["instructions"] == b["timing"]["count"]["median"] > 0
        assert r["figures"]["flash_bytes"] == b["memory"]["flash_bytes"] > 0
        assert r["generate"]["runtime"] == "edgekit"
        v = r["validation"]  # the device's outputs against the TFLM host interpreter's, on the model's 3 inputs
        assert v["schema"] == "edgekit.validate/1" and v["inputs"] == 3 and v["byte_exact"] == 3
        assert r["figures"]["byte_exact"] == "3/3"
        assert b["input"]["source"].endswith("_x.npy")  # bench's input: the first of those samples
    c = _counts(doc)
    ids = [r["id"] for r in rows]
    assert c[ids[0]] == c[ids[1]]  # nothing to make sparse in a dense model
    assert c[ids[2]] < c[ids[3]]  # 92 % zeros: the sparse kernel (auto) runs fewer instructions than dense (off)
    # the killed worker: its cell ran again and says so
    killed = rows[0]
    assert marker.read_text().strip().isdigit()
    assert killed["attempts"] == 2 and "worker process died" in killed["retries"][0]["error"]
    assert doc["counts"]["retried"] >= 1
    # rows arrived one by one in cells.jsonl (the retried cell once: it is written when it finishes)
    lines = (out / "cells.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["key"] for x in lines) == sorted(r["key"] for r in rows)
    # the Pareto view: instructions and flash, both minimized; the pruned model's sparse cell beats its dense one
    front = set(doc["pareto"]["front"])
    assert ids[3] not in front and doc["pareto"]["recommended"] in front
    assert doc["pareto"]["why_not"][ids[3]].startswith("dominated")
    csv_lines = (out / "sweep.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("id,status,model,board")
    page = ET.parse(out / "sweep.html").getroot()  # well-formed XHTML
    svg = "{http://www.w3.org/2000/svg}"
    assert len(page.findall(f".//{svg}circle[@class='front']")) == len(front)
    assert (out / "work").is_dir() and len(list((out / "work").iterdir())) == 4


def test_rerun_skips_finished_cells(spec: Path, local_run: tuple[Path, dict, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out, first, _ = local_run
    assert run(["sweep", str(spec), "-o", str(out)]) == 0
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["counts"]["resumed"] == 4 and _counts(doc) == _counts(first)
    assert "4 of 4 cells ok (4 reused" in capsys.readouterr().out
    # a driver killed after three cells: the fourth runs again, the three are kept
    lines = (out / "cells.jsonl").read_text().splitlines()
    keep = [x for x in lines if json.loads(x)["key"] != first["cells"][2]["key"]]
    (out / "cells.jsonl").write_text("\n".join(keep) + '\n{"torn line')
    assert run(["sweep", str(spec), "-o", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["resumed"] for r in doc["cells"]] == [True, True, False, True]
    assert _counts(doc) == _counts(first)


def test_a_model_that_fails_to_convert_fails_its_cells_not_the_sweep(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A .keras model is converted once per quantization mode, in a worker; a broken one (not a zip archive: refused
    before TensorFlow loads) gives failed rows at the convert stage, and the sweep exits 1 with its files written."""
    need_tool("arm-none-eabi-gcc")
    need_tool("cmake")
    need_tool("qemu-system-arm")
    (tmp_path / "broken.keras").write_bytes(b"not a zip archive")
    np.save(tmp_path / "calib.npy", np.zeros((4, 8), np.float32))
    (tmp_path / "s.yaml").write_text("models:\n  - {path: broken.keras, calib: calib.npy}\nboards: [qemu-cortex-m4]\n"
                                     "options: {quantization: [int8, int16]}\n")
    assert run(["sweep", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"), "-j", "1"]) == 1
    captured = capsys.readouterr()
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert [(r["options"]["quantization"], r["status"], r["stage"], r["error"]["type"]) for r in doc["cells"]] == [
        ("int8", "failed", "convert", "ModelError"), ("int16", "failed", "convert", "ModelError")]
    assert "not a .keras zip archive" in doc["cells"][0]["error"]["message"] or \
        "broken.keras" in doc["cells"][0]["error"]["message"]
    assert doc["pareto"]["recommended"] is None and "0 of 2 cells ok" in captured.out


def test_cells_on_a_labgrid_place_run_one_after_another(spec: Path, local_run: tuple[Path, dict, Path],
                                                         tmp_path: Path) -> None:
    """#19 item 3: cells naming a labgrid place (a local coordinator + exporter fronting an emulated board) are
    flashed and measured there one at a time, even with two workers; the board comes from the place's tag; the
    figures equal the direct QEMU cells'; the place is free afterwards."""
    need_module("labgrid")
    from labgrid_lab import Lab

    from edgekit.sweeps import sweep

    lab = Lab(tmp_path / "lab")
    try:
        lab.add_board("m4")
        lab.start_exporter(loaders=("m4",))
        lab.add_place("ek-m4", "m4", board_tag="qemu-cortex-m4")
        d = spec.parent
        place_spec = tmp_path / "place.yaml"
        place_spec.write_text(
            f"coordinator: {lab.address}\nmodels:\n  - {{path: {d}/dense.tflite, inputs: {d}/dense_x.npy}}\n"
            f"  - {{path: {d}/pruned.tflite, inputs: {d}/pruned_x.npy}}\nboards:\n  - labgrid: ek-m4\n"
            "options: {runtime: edgekit, sparse: auto}\nruns: 3\nvalidate: true\n")
        doc = sweep(place_spec, tmp_path / "out", jobs=2).doc
        assert lab.owner("ek-m4") is None
    finally:
        lab.close()
    rows = doc["cells"]
    assert [r["status"] for r in rows] == ["ok", "ok"], [r["error"] for r in rows]
    for r in rows:
        assert r["labgrid"] == "ek-m4" and r["board"] == "qemu-cortex-m4" and r["id"].endswith("@ek-m4 "
                                                                                                  "runtime=edgekit "
                                                                                                  "sparse=auto")
        assert r["bench"]["transport"]["labgrid"]["place"] == "ek-m4" and r["figures"]["byte_exact"] == "3/3"
    direct = {(r["model"]["name"], r["options"]["sparse"]): r["figures"]["instructions"] for r in local_run[1]["cells"]}
    assert [r["figures"]["instructions"] for r in rows] == [direct["dense", "auto"], direct["pruned", "auto"]]
    first, second = sorted(rows, key=lambda r: r["window"]["start"])
    assert second["window"]["start"] >= first["window"]["end"]  # one after another on the place


# ------------------------------------------------------------------------------------------- bad specs -----

@pytest.mark.parametrize("text, where, hint", [
    ("models: [m.tflite]\nboards: [qemu-cortex-m4]\nrunz: 3\n", "(line 3): runz: unknown key", "known keys"),
    ("models: [m.tflite]\nboards: [qemu-cortex-m4]\noptions:\n  runtime: [edgekit, tflmm]\n",
     "(line 4): options.runtime[1]: 'tflmm' is not one of auto, edgekit, tflm", None),
    ("models:\n  - m.tflite\n  - gone.tflite\nboards: [qemu-cortex-m4]\n",
     "(line 3): models[1]: gone.tflite: no such file", "relative to"),
    ("models: [m.tflite]\nboards: [nucleo-f446re]\n", "boards[0]: nucleo-f446re is not an emulated board",
     "labgrid"),
    ("models: [m.tflite]\nboards:\n  - {labgrid: 7}\n", "(line 3): boards[0].labgrid: expected a labgrid place",
     "docs/sweep.md"),
    ("models: [m.tflite]\nboards: [qemu-cortex-m4]\noptions: {quantization: int16}\n",
     "options.quantization: applies to models to convert", "calib"),
    ("models: [m.tflite]\nboards: [qemu-cortex-m4]\nvalidate: true\n", "models[0]: validate: true needs inputs",
     "inputs:"),
    ("models: [m.tflite]\nboards: [qemu-cortex-m4]\nobjectives: [speed]\n", "objectives[0]: 'speed' is not",
     "latency_us"),
    ("models: [m.tflite]\nboards: [qemu-cortex-m4\n", "not valid YAML (line 3)", "indentation"),
    ("models: [m.tflite]\nmodels: [m.tflite]\nboards: [qemu-cortex-m4]\n", "models: duplicate key (line 2)", None),
    ("models: [m.keras]\nboards: [qemu-cortex-m4]\n", "models[0]: m.keras is not a converted .tflite", "calib"),
])
def test_bad_spec_names_file_line_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str,
                                        hint: str | None) -> None:
    (tmp_path / "m.tflite").write_bytes(b"not read before the spec is valid")
    (tmp_path / "m.keras").write_bytes(b"")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert run(["sweep", str(path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"error: {path}" in err and where in err, err
    if hint:
        assert "hint:" in err and hint in err.split("hint:", 1)[1], err
    assert not (tmp_path / "out").exists()


def test_help_and_local_sweep_modules_import_no_optional_framework() -> None:
    code = ("import sys, edgekit.cli, edgekit.cli.sweep, edgekit.sweeps, edgekit.sweeps.cell, "
            "edgekit.sweeps.executors, edgekit.sweeps.report; from edgekit.cli import run; "
            "rc = run(['--help']); rc |= run(['sweep', '--help']); "
            "bad = sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'tensorflow', 'keras', 'torch'}); "
            "assert not bad and rc == 0, (bad, rc)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, stdout=subprocess.DEVNULL)


# ------------------------------------------------------------------------------------ on a Ray cluster -----

@pytest.fixture(scope="module")
def ray_cluster() -> object:
    """A head (no CPUs) and two worker nodes with one CPU and an 80 MB object store each, on localhost; all their
    processes are gone after the module."""
    need_module("ray")
    root = Path(tempfile.mkdtemp(prefix="ekray", dir="/tmp"))  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    cluster = Cluster(root / "t", env)
    try:
        cluster.start("head", head=True)
        for i in (1, 2):
            cluster.start(f"worker{i}")
        yield cluster
    finally:
        left = cluster.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Ray processes left behind: {left}"


@pytest.mark.ray
def test_ray_sweep_matches_local_and_retries_a_killed_worker(spec: Path, local_run: tuple[Path, dict, Path],
                                                             ray_cluster: Cluster, tmp_path: Path) -> None:
    from edgekit.sweeps import load_spec, sweep

    victim = load_spec(spec).cells[3].id
    marker = tmp_path / "killed"
    res = sweep(spec, tmp_path / "out", ray=ray_cluster.address, kill_once=(victim, str(marker)))
    doc = res.doc
    assert doc["executor"]["kind"] == "ray" and res.ok
    assert len({n["node_id"] for n in doc["executor"]["nodes_checked"]}) == 2  # both workers checked
    assert _counts(doc) == _counts(local_run[1])  # the same instruction counts as on this machine's cores
    assert [r["figures"]["byte_exact"] for r in doc["cells"]] == ["3/3"] * 4
    assert len({r["worker"]["node_id"] for r in doc["cells"]}) >= 1
    by_id = {r["id"]: r for r in doc["cells"]}
    assert marker.exists() and by_id[victim]["attempts"] == 2
    assert by_id[victim]["retries"][0]["error"].startswith("WorkerCrashedError")
    assert all(r["attempts"] == 1 for r in doc["cells"] if r["id"] != victim)
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["counts"]["retried"] == 1


@pytest.mark.ray
def test_ray_node_without_the_toolchain_is_named(spec: Path, ray_cluster: Cluster, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bare = {**ray_cluster.env, "PATH": str(tmp_path / "empty")}  # no arm-none-eabi-gcc, cmake or QEMU there
    node = ray_cluster.start("bare-node", env=bare)
    try:
        assert run(["sweep", str(spec), "-o", str(tmp_path / "out"), "--ray", ray_cluster.address]) == 1
        err = capsys.readouterr().err
        assert "ray node bare-node" in err and "arm-none-eabi-gcc" in err and "qemu-system-arm" in err, err
        assert "ray node worker1" not in err and "hint:" in err
        assert not (tmp_path / "out" / "cells.jsonl").exists()
    finally:
        node.stop()


@pytest.mark.ray
def test_no_ray_cluster_at_the_address_is_a_quick_usage_error(spec: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    need_module("ray")
    address = f"127.0.0.1:{free_port()}"
    assert run(["sweep", str(spec), "-o", str(tmp_path / "out"), "--ray", address]) == 2
    err = capsys.readouterr().err
    assert f"--ray {address}: no Ray cluster there" in err and "ray start --head" in err
