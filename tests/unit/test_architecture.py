"""The rules of the rooms (ARCHITECTURE.md), checked on the source: imports only go down the
layers, and sources/ and articles/ import neither Beam nor io/."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"
# shared modules (config, records, ...) are 0; everything else by room, lowest first
LAYERS = {"sources": 1, "articles": 1, "io": 2, "transforms": 3, "pipeline": 4, "run": 5, "streaming": 6,
          "commands": 7, "cli": 8, "__main__": 8}


def _layer(module: str) -> int:
    return LAYERS.get(module.split(".")[1], 0) if module.count(".") else 0


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [f"{node.module}.{a.name}" if node.module == "pipeline" else node.module for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return found


def _modules() -> list[tuple[str, Path]]:
    return [(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts), p) for p in sorted(PACKAGE.rglob("*.py"))]


def test_imports_only_go_down_the_layers() -> None:
    upward = [(module, target) for module, path in _modules() for target in _imports(path)
              if target.startswith("pipeline.") and _layer(target) > _layer(module)]
    assert upward == []


def test_sources_and_articles_import_neither_beam_nor_io() -> None:
    pure = [(m, p) for m, p in _modules() if m.split(".")[1:2] in (["sources"], ["articles"])]
    assert len(pure) > 10
    offending = [(module, target) for module, path in pure for target in _imports(path)
                 if target.startswith(("apache_beam", "pipeline.io", "pipeline.transforms"))]
    assert offending == []
