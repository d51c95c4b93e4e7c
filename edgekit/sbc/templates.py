"""The files a bundle carries besides the model and the runner (README, Dockerfile, unit), rendered from the Jinja
templates in ``firmware_templates/sbc/``."""

from __future__ import annotations

from typing import Any

from edgekit.resources import templates_dir

# Docker platform per machine, and the base image: tag = Python minor version + Debian release.
DOCKER_PLATFORMS = {"aarch64": "linux/arm64", "armv7l": "linux/arm/v7", "x86_64": "linux/amd64"}

# template file (in firmware_templates/sbc) -> the name it gets in the bundle; None: the unit's own name
FILES = {"edgekit.service.j2": None, "Dockerfile.j2": "Dockerfile", "dockerignore": ".dockerignore",
         "README.md.j2": "README.md"}


def render(template: str, ctx: dict[str, Any]) -> str:
    """Render one template file of ``firmware_templates/sbc`` with StrictUndefined (a missing variable is an error,
    not an empty string); a file without the ``.j2`` suffix is returned as it is."""
    import jinja2

    text = (templates_dir("sbc") / template).read_text(encoding="utf-8")
    if not template.endswith(".j2"):
        return text
    ctx = {**ctx, "inputs_md": _tensors_md(ctx["inputs"]), "outputs_md": _tensors_md(ctx["outputs"]),
           "requirements_md": ", ".join(f"`{r}`" for r in ctx.get("locked") or ctx["runtime"]["requirements"])}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(text).render(**ctx)


def _tensors_md(tensors: list[dict[str, Any]]) -> str:
    return ", ".join(f"`{t['name']}` {t['dtype']} {t['shape']}" for t in tensors)
