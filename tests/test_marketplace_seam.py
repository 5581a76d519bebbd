"""The marketplace seam holds: outside a platform's own folder (sync/marketplaces/<platform>/), sync's code
reaches a platform only through sync.marketplaces (the registry and the interface in base.py), so a platform's
quirks live in one folder. Operator commands are the outer layer and may name a platform, as views may."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = sorted(p.name for p in (ROOT / "sync" / "marketplaces").iterdir()
                   if p.is_dir() and (p / "adapter.py").exists())
OUTER = ("sync/management/", "sync/migrations/")


def _neutral_files() -> list[Path]:
    files = []
    for path in sorted((ROOT / "sync").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(OUTER) or any(relative.startswith(f"sync/marketplaces/{p}/") for p in PLATFORMS):
            continue
        files.append(path)
    return files


def _platform_imports(path: Path, relative: str | None = None) -> list[str]:
    """`file:line: module` for every import of a platform's folder in the file (relative imports resolved)."""
    relative = relative or path.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                package = Path(relative).with_suffix("").parts[:-node.level]
                base = ".".join(package + ((node.module,) if node.module else ()))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if any(name == f"sync.marketplaces.{p}" or name.startswith(f"sync.marketplaces.{p}.") for p in PLATFORMS):
                found.append(f"{relative}:{node.lineno}: {name}")
                break
    return found


def test_there_are_platforms_and_neutral_code_to_check():
    assert {"top", "douyin"} <= set(PLATFORMS)
    files = [f.relative_to(ROOT).as_posix() for f in _neutral_files()]
    assert "sync/pipelines/orders.py" in files and "sync/schedule.py" in files and len(files) > 30


@pytest.mark.parametrize("path", _neutral_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_neutral_sync_code_names_no_platform(path):
    assert _platform_imports(path) == []


def test_the_check_sees_a_platform_import_even_a_relative_one_inside_a_function(tmp_path):
    fake = tmp_path / "orders.py"
    fake.write_text("def _x():\n    from ..marketplaces.top import mapping\n", encoding="utf-8")
    assert _platform_imports(fake, "sync/pipelines/orders.py") == ["sync/pipelines/orders.py:2: sync.marketplaces.top"]
