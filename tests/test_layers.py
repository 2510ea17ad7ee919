"""The import contract (pyproject.toml, run by scripts/test) holds, and catches a lower
package importing a higher one: checked on a copy of the code with one bad import added."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("storage", "feeds", "calserver", "web")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    # lint-imports puts its working directory first on the path, so the copy is analysed.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=where, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    skip = shutil.ignore_patterns("__pycache__", "static", "templates", "*.html")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_code_keeps_the_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "arrow"),
    [
        (
            "storage/models.py",
            "from calserver.clock import Clock",
            "storage.models -> calserver.clock",
        ),
        ("storage/stats.py", "from feeds.alarms import to_utc", "storage.stats -> feeds.alarms"),
        (
            "feeds/render.py",
            "from calserver.config import Config",
            "feeds.render -> calserver.config",
        ),
        (
            "calserver/ingest.py",
            "from web.problems import problem",
            "calserver.ingest -> web.problems",
        ),
        ("feeds/feed.py", "import aiohttp", "feeds.feed -> aiohttp"),
    ],
)
def test_a_lower_package_importing_a_higher_one_breaks_it(
    copy: Path, module: str, bad_import: str, arrow: str
) -> None:
    assert lint_imports(copy).returncode == 0  # the copy itself is clean
    path = copy / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{bad_import}  # noqa\n", "utf-8")
    result = lint_imports(copy)
    assert result.returncode == 1
    assert arrow in result.stdout and "BROKEN" in result.stdout
