"""Supply chain (issue #9 item 5): every generated project and bundle pins every dependency it downloads.

Each board's project (TFLM and the AOT project for every MCU board, in its default build system, and the
nRF52840 DK's AOT Zephyr project) and each Linux board's
bundle is rendered, and every file in it is scanned for download references: URLs, ``git clone``,
FetchContent/ExternalProject/file(DOWNLOAD), west manifests, IDF component manifests, PlatformIO ``platform`` /
``lib_deps``, pip requirements and ``pip install`` commands, Docker ``FROM``. A reference passes when it names an
immutable identifier (a 40-hex git commit, an exact ``==`` / ``@X.Y.Z`` version, an image digest) and a checksum
where the format has one (SHA-256 for archives and pip files). What a format cannot express is in
:data:`ALLOWED`, each with its reason; an entry no file needs any more fails the test too. Any URL no rule
accounts for must be a documentation link listed in :data:`DOC_LINKS`.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import need_tool, shared_model

MODEL = "tflm_examples/hello_world_int8.tflite"
HEX40 = r"[0-9a-f]{40}"
SHA256 = r"[0-9a-f]{64}"
EXACT = r"\d+(?:\.\d+)*"
URL = re.compile(r"(?:https?|git|ssh)://[^\s\"'<>()`\[\]{}]+|git@[\w.-]+:[\w./-]+")

ALLOWED: dict[str, str] = {
    "esp-component-manager": "idf_component.yml has no checksum field: components are pinned to exact versions "
                             "(==) and the component manager records each one's hash in dependencies.lock",
    "esp-idf-framework": "'idf: >=X' in idf_component.yml constrains the ESP-IDF the user installed; it downloads "
                         "nothing",
    "platformio": "platformio.ini has no checksum field: the platform is an exact version (@X.Y.Z), libraries are "
                  "git commits",
    "zephyr-tag": "west.yml pins Zephyr by its release tag: the tag's commit could not be read where the pin was "
                  "written (no access to github.com, the repository is too large to mirror); replace it with "
                  "'git rev-parse <tag>^{commit}' of a Zephyr clone",
    "west-modules": "the modules imported from Zephyr's west.yml are pinned by commit in that manifest",
    "pip-cli": "'pip install name==X' on a command line (tools: west, platformio; runner hints) cannot carry a hash; "
               "the version is exact",
    "apt": "Debian packages come from the distribution's signed archive; apt-get has no per-package checksum",
    "tflm-downloads": "TFLM's 'make third_party_downloads' runs TFLM's own scripts at the pinned TFLM commit, which "
                      "check each archive's MD5",
    "armv7l-requirements": "armv7l requirements pin exact versions without hashes: numpy has no armv7l wheel on "
                           "PyPI, the extra index's file hashes are unknown, and pip's hash mode is all-or-nothing",
    "docker-base-digest": "the Docker base image's digest could not be obtained (no registry access); the bundle "
                          "README says the image is pinned by tag only and how to pin the digest",
    "runner-hints": "the runner's hint for a venv with numpy 2 ('numpy<2'): an error message, not the bundle's "
                    "install (requirements.txt pins numpy exactly)",
}
DOC_LINKS: dict[str, str] = {
    "https://github.com/raspberrypi/pico-tflmicro": "README link to the project page; nothing is downloaded",
}


@dataclass
class Scan:
    """What scanning a set of files found."""

    violations: list[str] = field(default_factory=list)
    allowed: set[str] = field(default_factory=set)

    def bad(self, where: str, what: str) -> None:
        self.violations.append(f"{where}: {what}")


# ----------------------------------------------------------------------------------------- scanner --

def _cmake(name: str, text: str, scan: Scan) -> set[str]:
    """FetchContent_Declare / ExternalProject_Add / file(DOWNLOAD): git commits or URL + SHA-256."""
    variables = dict(re.findall(r"^\s*set\((\w+)\s+([^\s)]+)\)", text, re.M))

    def resolve(value: str) -> str:
        for _ in range(5):
            value = re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), value)
        return value

    ok: set[str] = set()
    for kind, args in re.findall(r"(FetchContent_Declare|ExternalProject_Add|file)\s*\(([^)]*)\)", text):
        tokens = [resolve(t) for t in args.split()]
        if kind == "file" and (not tokens or tokens[0] != "DOWNLOAD"):
            continue
        opts = {tokens[i]: tokens[i + 1] for i in range(len(tokens) - 1)}
        repo, url = opts.get("GIT_REPOSITORY"), opts.get("URL") or (tokens[1] if kind == "file" else None)
        if repo:
            if re.fullmatch(HEX40, opts.get("GIT_TAG", "")):
                ok.add(repo)
            else:
                scan.bad(name, f"{kind} of {repo}: GIT_TAG {opts.get('GIT_TAG')!r} is not a 40-hex commit")
        elif url:
            digest = opts.get("URL_HASH") or opts.get("EXPECTED_HASH") or ""
            if re.fullmatch(rf"SHA256={SHA256}", digest):
                ok.add(url)
            else:
                scan.bad(name, f"{kind} of {url}: no SHA256 hash (got {digest or 'none'!r})")
    return ok


def _git_clones(name: str, text: str, scan: Scan) -> set[str]:
    """'git clone URL' must be followed (within three lines) by a checkout of a 40-hex commit."""
    ok: set[str] = set()
    for m in re.finditer(r"git clone\s+(?:-\S+\s+)*(\S+)", text):
        after = "\n".join(text[m.end():].splitlines()[:4])
        if re.search(rf"checkout\s+{HEX40}\b", after):
            ok.add(m.group(1))
        else:
            scan.bad(name, f"'git clone {m.group(1)}' without a checkout of a 40-hex commit after it")
    return ok


def _west(name: str, text: str, scan: Scan) -> set[str]:
    manifest = yaml.safe_load(text)["manifest"]
    for p in manifest.get("projects", []):
        rev = str(p.get("revision", ""))
        if re.fullmatch(HEX40, rev):
            pass
        elif p.get("name") == "zephyr" and re.fullmatch(r"v\d+\.\d+\.\d+", rev):
            scan.allowed.add("zephyr-tag")
        else:
            scan.bad(name, f"west project {p.get('name')}: revision {rev!r} is not a 40-hex commit")
        if "import" in p:
            scan.allowed.add("west-modules")
    return {str(r.get("url-base")) for r in manifest.get("remotes", [])}


def _idf_component(name: str, text: str, scan: Scan) -> set[str]:
    for dep, spec in (yaml.safe_load(text).get("dependencies") or {}).items():
        version = spec.get("version") if isinstance(spec, dict) else spec
        if dep == "idf":
            scan.allowed.add("esp-idf-framework")
        elif re.fullmatch(rf"=={EXACT}", str(version)):
            scan.allowed.add("esp-component-manager")
        else:
            scan.bad(name, f"component {dep}: version {version!r} is not exact (==X.Y.Z)")
    return set()


def _platformio(name: str, text: str, scan: Scan) -> set[str]:
    ini = configparser.ConfigParser(inline_comment_prefixes=(";",))
    ini.read_string(text)
    ok: set[str] = set()
    for section in ini.sections():
        entries = [ini[section].get("platform", "")]
        for key in ("lib_deps", "platform_packages"):
            entries += [e.strip() for e in ini[section].get(key, "").splitlines()]
        for e in filter(None, entries):
            if re.fullmatch(rf"\S+\.git#{HEX40}", e):
                ok.add(e.split("#")[0])
            elif re.fullmatch(rf"[\w./-]+@{EXACT}", e):
                pass
            else:
                scan.bad(name, f"[{section}] {e!r}: not an exact version (@X.Y.Z) or a git commit (#40-hex)")
            scan.allowed.add("platformio")
    return ok


def _requirements(name: str, text: str, scan: Scan) -> set[str]:
    unhashed_ok = "armv7l" in text.splitlines()[0]
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not re.match(r"[A-Za-z0-9._-]+==[\w.]+(\s|$)", line):
            scan.bad(name, f"{line.split()[0]!r}: not pinned with ==")
        elif not re.search(rf"--hash=sha256:{SHA256}", line):
            if unhashed_ok:
                scan.allowed.add("armv7l-requirements")
            else:
                scan.bad(name, f"{line.split()[0]}: no --hash=sha256:")
    return set()


def _dockerfile(name: str, text: str, scan: Scan, readme: str, hashed: bool) -> set[str]:
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    for image in re.findall(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", text, re.M):
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), image)
        if re.search(rf"@sha256:{SHA256}$", image):
            continue
        if "pinned by **tag only**" in readme:
            scan.allowed.add("docker-base-digest")
        else:
            scan.bad(name, f"FROM {image}: no @sha256 digest, and the README does not say so")
    for m in re.finditer(r"pip install (.*)", text):
        if "-r requirements.txt" not in m.group(1) or (hashed and "--require-hashes" not in m.group(1)):
            scan.bad(name, f"'pip install {m.group(1)}': install the pinned requirements.txt"
                           + (" with --require-hashes" if hashed else ""))
    return set()


def _commands(name: str, text: str, scan: Scan) -> None:
    """pip install / apt-get install / TFLM's downloads in any text (READMEs, CMake messages, runner hints)."""
    for line in text.splitlines():
        for m in re.finditer(r"pip install\s(.*)", line):
            rest = m.group(1)
            if name.endswith(".py"):
                rest = rest.split('"')[0]  # the rest of the string literal
            rest = re.split(r"&&|`|\s#\s|;", rest)[0]
            tokens = [t.strip("'\"),") for t in rest.split()]
            skip = False
            for t in tokens:
                if skip or not t:
                    skip = False
                    continue
                if t in ("-r", "--requirement", "-c"):
                    skip = True
                elif t.startswith("-"):
                    continue
                elif re.fullmatch(rf"[A-Za-z][\w.-]*=={EXACT}", t):
                    scan.allowed.add("pip-cli")
                elif name.endswith("runtime.py") and t == "numpy<2":
                    scan.allowed.add("runner-hints")
                else:
                    scan.bad(name, f"'pip install {t}': not an exact version (name==X.Y.Z)")
        if re.search(r"apt(-get)? install", line):
            scan.allowed.add("apt")
        if "third_party_downloads" in line and "make -f" in line:
            scan.allowed.add("tflm-downloads")


def _json(name: str, text: str, scan: Scan) -> set[str]:
    """Project/bundle manifests: a '<x>_repo' pin must come with a 40-hex '<x>_commit'."""
    ok: set[str] = set()

    def walk(node: object) -> Iterator[dict]:
        if isinstance(node, dict):
            yield node
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    for d in walk(json.loads(text)):
        for key, value in d.items():
            if key.endswith("_repo") and isinstance(value, str):
                if re.fullmatch(HEX40, str(d.get(key[:-5] + "_commit", ""))):
                    ok.add(value)
                else:
                    scan.bad(name, f"{key} {value}: no 40-hex {key[:-5]}_commit beside it")
    return ok


def scan_tree(root: Path, scan: Scan | None = None) -> Scan:
    """Scan every file under ``root`` (a generated project or bundle)."""
    scan = scan or Scan()
    readme = (root / "README.md").read_text(encoding="utf-8") if (root / "README.md").is_file() else ""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix in (".tflite", ".pyc"):
            continue
        name = f"{root.name}/{path.relative_to(root)}"
        text = path.read_text(encoding="utf-8")
        ok = _git_clones(name, text, scan)
        _commands(name, text, scan)
        if path.name in ("CMakeLists.txt", "edgekit_build.cmake") or path.suffix == ".cmake":
            ok |= _cmake(name, text, scan)
        elif path.name == "west.yml":
            ok |= _west(name, text, scan)
        elif path.name == "idf_component.yml":
            ok |= _idf_component(name, text, scan)
        elif path.name == "platformio.ini":
            ok |= _platformio(name, text, scan)
        elif path.name.startswith("requirements") and path.suffix == ".txt":
            ok |= _requirements(name, text, scan)
        elif path.name == "Dockerfile":
            hashed = "--hash=" in (root / "requirements.txt").read_text(encoding="utf-8")
            ok |= _dockerfile(name, text, scan, readme, hashed)
        elif path.suffix == ".json":
            ok |= _json(name, text, scan)
        for url in URL.findall(text):
            url = url.rstrip(".,:;")
            if url not in ok and url.split("#")[0] not in ok and url not in DOC_LINKS:
                scan.bad(name, f"URL {url}: no rule shows it pinned (and it is not a listed documentation link)")
    return scan


# ------------------------------------------------------------------------------------- the projects --

@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every board's project or bundle (and the 32-bit bundle of the Raspberry Pi 4)."""
    from edgekit.boards import list_boards
    from edgekit.codegen.tflm_project import BUILD_SYSTEMS, generate_tflm
    from edgekit.generation import generate
    from edgekit.sbc.bundle import generate_bundle

    out = tmp_path_factory.mktemp("supply_chain")
    model = shared_model(MODEL)
    dirs = []
    for b in list_boards():
        if b.kind == "mcu" and b.build.system in BUILD_SYSTEMS:
            dirs.append(Path(generate_tflm(model, b, out / f"tflm-{b.id}", arena_bytes=1024)["project_dir"]))
            dirs.append(generate(model, b, "edgekit", out_dir=out / f"aot-{b.id}").project_dir)  # cmake or its SDK
        elif b.kind in ("sbc", "host"):
            dirs.append(generate_bundle(model, b, out / f"bundle-{b.id}").bundle_dir)
    dirs.append(generate(model, "nrf52840dk", "edgekit", out_dir=out / "aot-nrf52840dk-zephyr",
                         build_system="zephyr").project_dir)
    dirs.append(generate_bundle(model, "rpi4", out / "bundle-rpi4-armv7l", machine="armv7l").bundle_dir)
    return dirs


def test_every_generated_download_is_pinned(rendered: list[Path]) -> None:
    kinds = {d.name.split("-")[0] for d in rendered}
    assert kinds == {"tflm", "aot", "bundle"}
    scan = Scan()
    for d in rendered:
        scan_tree(d, scan)
    assert not scan.violations, "unpinned downloads:\n" + "\n".join(scan.violations)
    stale = set(ALLOWED) - scan.allowed
    assert not stale, f"allow-list entries no generated file needs any more: {sorted(stale)}"


def test_the_pins_are_exact_identifiers() -> None:
    from edgekit.codegen.tflm_project import PINS

    for key, value in PINS.items():
        if key.endswith("_commit"):
            assert re.fullmatch(HEX40, value), key
            assert key[:-7] + "_repo" in PINS or key == "tflm_commit", f"{key}: which repository?"
        if key.endswith("_repo"):
            assert re.fullmatch(HEX40, PINS[key[:-5] + "_commit"]), key
    for key in ("esp_tflite_micro", "platformio_nordicnrf52", "west", "platformio", "pico_sdk_version"):
        assert re.fullmatch(EXACT, PINS[key]), key


def test_bundle_requirements_cover_the_runtimes_closure() -> None:
    """Every runtime choice resolves to a lock whose versions satisfy the runtime's own requirement specs."""
    from packaging.requirements import Requirement

    from edgekit.sbc.edgekit_runner.wheels import choose_runtime
    from edgekit.sbc.locks import locked_packages, locked_requirements

    for machine, pythons in (("x86_64", [(3, 8), (3, 9), (3, 10), (3, 11), (3, 14)]),
                             ("aarch64", [(3, 9), (3, 10), (3, 13)]), ("armv7l", [(3, 8), (3, 11)])):
        for py in pythons:
            choice = choose_runtime(machine, py)
            pinned = {Requirement(r).name: Requirement(r) for r in locked_packages(choice)}
            for spec in choice.requirements:
                want = Requirement(spec)
                version = next(iter(pinned[want.name].specifier)).version
                assert want.specifier.contains(version), f"{machine} {py}: {spec} vs {version}"
            lines = locked_requirements(choice)
            assert len(lines) == len(pinned)
            if machine != "armv7l":
                assert all(re.search(rf"--hash=sha256:{SHA256}", ln) for ln in lines), (machine, py)


# ------------------------------------------------------------------------- the scanner catches ... --

BAD = {
    "CMakeLists.txt": ("FetchContent_Declare(x GIT_REPOSITORY https://example.com/x.git GIT_TAG main)\n"
                       "FetchContent_Declare(y URL https://example.com/y.zip URL_HASH MD5=abc)\n"),
    "west.yml": ("manifest:\n  remotes: [{name: r, url-base: https://example.com}]\n"
                 "  projects:\n    - {name: hal, remote: r, revision: main}\n"),
    "idf_component.yml": "dependencies:\n  espressif/esp-tflite-micro: '^1.3.8'\n",
    "platformio.ini": "[env:x]\nplatform = nordicnrf52\nlib_deps =\n  https://example.com/lib.git#main\n",
    "requirements.txt": "# ai-edge-litert for aarch64\nnumpy>=1.24\npaho-mqtt==2.2.0\n",
    "README.md": "    git clone https://example.com/sdk.git\n    pip install west\n    curl -O https://example.com/a.zip\n",
}


def test_the_scanner_catches_unpinned_references(tmp_path: Path) -> None:
    for name, text in BAD.items():
        (tmp_path / name).write_text(text)
    found = "\n".join(scan_tree(tmp_path).violations)
    for needle in ("GIT_TAG 'main' is not a 40-hex commit", "y.zip: no SHA256 hash", "west project hal",
                   "esp-tflite-micro: version '^1.3.8' is not exact", "'nordicnrf52': not an exact version",
                   "lib.git#main", "'numpy>=1.24': not pinned with ==", "paho-mqtt==2.2.0: no --hash=sha256:",
                   "'git clone https://example.com/sdk.git' without a checkout", "'pip install west': not an exact",
                   "URL https://example.com/a.zip: no rule shows it pinned"):
        assert needle in found, f"{needle!r} not reported in:\n{found}"


def test_the_scanner_accepts_pinned_references(tmp_path: Path) -> None:
    sha, digest = "a" * 40, "b" * 64
    (tmp_path / "CMakeLists.txt").write_text(
        f"set(R https://example.com/x.git)\nFetchContent_Declare(x GIT_REPOSITORY ${{R}} GIT_TAG {sha})\n"
        f"FetchContent_Declare(y URL https://example.com/y.zip URL_HASH SHA256={digest})\n")
    (tmp_path / "README.md").write_text(f"git clone https://example.com/sdk.git\ngit -C sdk checkout {sha}\n")
    (tmp_path / "requirements.txt").write_text(f"# x for x86_64\nnumpy==2.3.5 --hash=sha256:{digest}\n")
    (tmp_path / "Dockerfile").write_text(f"FROM python:3.11-slim@sha256:{digest}\n"
                                         "RUN pip install --require-hashes -r requirements.txt\n")
    assert scan_tree(tmp_path).violations == []


# ------------------------------------------------------------------ the pinned fetch path really works --

def _git_repo(path: Path, files: dict[str, str]) -> str:
    """A local git repository holding ``files`` in one commit; returns the commit."""
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(path), "PATH": os.environ["PATH"]}
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(path), *cmd], check=True, env=env, capture_output=True)
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, env=env, capture_output=True,
                          text=True).stdout.strip()


FB_PATCH = """--- a/include/flatbuffers/base.h
+++ b/include/flatbuffers/base.h
@@ -1 +1 @@
-#define EK_UNPATCHED 1
+#define EK_PATCHED_BY_TFLM 1
"""


@pytest.mark.toolchain
def test_tflm_fetch_checks_out_the_pinned_commits(tmp_path: Path, rendered: list[Path]) -> None:
    """-DEDGEKIT_TFLM_FETCH=ON clones each pinned repository at its commit and applies TFLM's flatbuffers patch.

    The rendered cmake/tflm.cmake is pointed at local repositories (same structure, their own commits): what
    runs is the project's real FetchContent logic, without the network."""

    for tool in ("git", "patch", "cmake", "arm-none-eabi-gcc", "arm-none-eabi-g++"):
        need_tool(tool)
    src = next(d for d in rendered if d.name == "tflm-qemu-cortex-m4")
    proj = tmp_path / "proj"
    shutil.copytree(src, proj)
    m = "tensorflow/lite/micro"
    repos = {
        "TFLM": {f"{m}/micro_interpreter.h": "", f"{m}/micro_log.cc": "", f"{m}/kernels/conv.cc": "",
                 "tensorflow/lite/core/c/common.cc": "", f"{m}/tools/make/flatbuffers.patch": FB_PATCH},
        "FLATBUFFERS": {"include/flatbuffers/flatbuffers.h": "",
                        "include/flatbuffers/base.h": "#define EK_UNPATCHED 1\n"},
        "GEMMLOWP": {"fixedpoint/fixedpoint.h": ""},
        "RUY": {"ruy/profiler/instrumentation.h": ""},
    }
    text = (proj / "cmake" / "tflm.cmake").read_text()
    for name, files in repos.items():
        commit = _git_repo(tmp_path / name.lower(), files)
        text, n_repo = re.subn(rf"set\(EK_{name}_GIT_REPOSITORY \S+\)",
                               f"set(EK_{name}_GIT_REPOSITORY file://{tmp_path / name.lower()})", text)
        text, n_tag = re.subn(rf"set\(EK_{name}_GIT_TAG {HEX40}\)", f"set(EK_{name}_GIT_TAG {commit})", text)
        assert n_repo == n_tag == 1, name
    (proj / "cmake" / "tflm.cmake").write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "EDGEKIT_TFLM_DIR"}
    res = subprocess.run(["cmake", "-S", str(proj), "-B", str(proj / "build"), "-DEDGEKIT_TFLM_FETCH=ON"],
                         capture_output=True, text=True, check=False, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "edgekit: TFLM from " in res.stdout and "_deps/ek_tflm-src" in res.stdout
    base = proj / "build" / "_deps" / "ek_flatbuffers-src" / "include" / "flatbuffers" / "base.h"
    assert base.read_text() == "#define EK_PATCHED_BY_TFLM 1\n"
