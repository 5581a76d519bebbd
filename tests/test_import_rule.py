"""The domain does not depend on the sync engine: nothing under merchant's models, services, selectors,
spreadsheets or api imports `sync`, at the top of a module or inside a function. What the domain changed goes
out through merchant.changes, which sync subscribes to at start. Views, management commands and
merchant/jobs.py are the outer layer and may import sync."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ("merchant/models", "merchant/services", "merchant/selectors", "merchant/spreadsheets", "merchant/api")


def _sync_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name == "sync" or name.startswith("sync."):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}")
    return found


def test_the_domain_imports_nothing_of_sync():
    files = [path for folder in DOMAIN for path in sorted((ROOT / folder).rglob("*.py"))]
    # Each folder must hold modules, or the rule would pass on a moved or misspelled folder.
    for folder in DOMAIN:
        assert any(path.is_relative_to(ROOT / folder) for path in files), f"no Python files under {folder}"
    offending = [line for path in files for line in _sync_imports(path)]
    assert not offending, "the domain must not import sync (use merchant.changes):\n" + "\n".join(offending)


def test_the_rule_sees_function_local_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    module = tmp_path / "module.py"
    module.write_text("import os, syncer\n\ndef f():\n"
                      "    from sync.outbox import x\n    import sync\n    from .sync import y\n")
    assert _sync_imports(module) == ["module.py:4: imports sync.outbox", "module.py:5: imports sync"]
