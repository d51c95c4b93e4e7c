"""Compile tree ensembles' C into one host executable (gcc, ASan/UBSan, ``-Wall -Wextra -Werror``) and run them.

Several models share one build (each under its own prefix), so tests compare many models with one compile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit import proc
from edgekit.errors import BuildError, NativeCrash
from edgekit.trees.emit import write_c
from edgekit.trees.load import TreeModel

__all__ = ["HostTrees", "build_host"]

CFLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-Wdouble-promotion", "-Wconversion"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]

_MAIN_HEAD = r"""/* Host driver: host_trees MODEL IN OUT SETS (IN: SETS inputs; OUT: SETS x every output) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int (*invoke)(void);
    void *(*input)(int);
    size_t (*input_bytes)(int);
    void *(*output)(int);
    size_t (*output_bytes)(int);
    int outputs;
} model_t;
"""
_MAIN_BODY = r"""
int main(int argc, char **argv) {
    FILE *fin, *fout;
    long sets, s, m;
    int i;
    const model_t *mod;
    if (argc != 5) return 2;
    m = strtol(argv[1], NULL, 10);
    sets = strtol(argv[4], NULL, 10);
    if (m < 0 || m >= (long)(sizeof models / sizeof models[0])) return 2;
    mod = &models[m];
    fin = fopen(argv[2], "rb");
    fout = fopen(argv[3], "wb");
    if (fin == NULL || fout == NULL) return 2;
    for (s = 0; s < sets; s++) {
        size_t n = mod->input_bytes(0);
        if (fread(mod->input(0), 1, n, fin) != n) return 4;
        if (mod->invoke() != 0) return 5;
        for (i = 0; i < mod->outputs; i++) {
            if (fwrite(mod->output(i), 1, mod->output_bytes(i), fout) != mod->output_bytes(i)) return 6;
        }
    }
    fclose(fin);
    fclose(fout);
    return 0;
}
"""


class HostTrees:
    """A host executable holding several tree models; :meth:`run` gives a model's outputs for float32 rows."""

    def __init__(self, exe: Path, models: list[TreeModel]) -> None:
        self.exe = exe
        self.models = models

    def run(self, index: int, X: np.ndarray) -> list[np.ndarray]:
        """Outputs of model ``index`` for ``X`` (N x features): [class int32 N x 1, scores float32] or [values]."""
        ens = self.models[index].ensemble
        x = np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), ens.n_features)
        work = self.exe.parent
        fin, fout = work / f"in{index}.bin", work / f"out{index}.bin"
        fin.write_bytes(x.tobytes())
        res = proc.run([str(self.exe), str(index), str(fin), str(fout), str(len(x))], check=False,
                       what="run the tree models on the host")
        if res.returncode != 0:
            raise NativeCrash(f"host tree model {index} exited with {res.returncode}: "
                              f"{(res.stderr or '').strip()[-800:]}")
        raw = fout.read_bytes()
        k = ens.n_columns
        if ens.is_classifier:
            rec = np.frombuffer(raw, dtype=np.uint8).reshape(len(x), 4 + 4 * k)
            cls = rec[:, :4].copy().view(np.int32)
            scores = rec[:, 4:].copy().view(np.float32)
            return [cls, scores]
        return [np.frombuffer(raw, dtype=np.float32).reshape(len(x), k)]


def build_host(models: list[TreeModel], work_dir: str | Path, *, sanitize: bool = True,
               codes: list[str] | None = None) -> HostTrees:
    """Emit every model's C (prefix ``m0``, ``m1``, ...) into ``work_dir`` and compile one host executable.

    ``codes``: the code style of each model (:data:`edgekit.trees.emit.CODE_STYLES`; default ``table``).

    Raises:
        BuildError: the generated C does not compile cleanly; ToolMissing: no gcc.
    """
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    sources, includes, rows = [], [], []
    for i, m in enumerate(models):
        prefix = f"m{i}"
        write_c(m.ensemble, work, name=m.name, sha256=m.sha256, prefix=prefix,
                code=codes[i] if codes else "table")
        sources.append(str(work / f"{prefix}_model.c"))
        includes.append(f'#include "{prefix}_model.h"')
        rows.append(f"    {{{prefix}_model_invoke, {prefix}_model_input, {prefix}_model_input_bytes, "
                    f"{prefix}_model_output, {prefix}_model_output_bytes, {prefix.upper()}_NUM_OUTPUTS}},")
    main = (_MAIN_HEAD + "\n".join(includes) + "\n\nstatic const model_t models[] = {\n" + "\n".join(rows)
            + "\n};\n" + _MAIN_BODY)
    (work / "host_trees.c").write_text(main, encoding="utf-8")
    exe = work / "host_trees"
    flags = [*CFLAGS, *(SANITIZE if sanitize else [])]
    res = proc.run([proc.which("gcc"), *flags, "-I", str(work), str(work / "host_trees.c"), *sources, "-o", str(exe)],
                   cwd=work, check=False, what="compile the tree models for the host")
    if res.returncode != 0:
        tail = (res.stderr or res.stdout or "").strip().splitlines()[-20:]
        raise BuildError(f"host build of the tree models failed in {work}: " + " | ".join(tail),
                         hint="this is a bug in edgekit's tree C generator")
    return HostTrees(exe, models)
