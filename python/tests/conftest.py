"""Run folders made by the real `cavern` binary, once per test session.

The binary is `$CAVERN_BINARY`, else the `cavern` on PATH (the one the wheel installs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cavern_binary() -> str:
    binary = os.environ.get("CAVERN_BINARY") or shutil.which("cavern")
    if not binary:
        pytest.fail("no cavern binary: install the wheel (it puts `cavern` on PATH) or set CAVERN_BINARY")
    return binary


@pytest.fixture(scope="session")
def make_run(cavern_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`make_run("quickstart")` runs experiments/quickstart.toml once and returns its run folder."""
    made: dict[str, Path] = {}

    def make(experiment: str) -> Path:
        if experiment not in made:
            out = tmp_path_factory.mktemp("runs") / experiment
            # From the repository root with a relative path, as the README runs experiments.
            subprocess.run(
                [cavern_binary, "run", f"experiments/{experiment}.toml", "--quiet", "--out", str(out)],
                check=True,
                cwd=REPO,
            )
            made[experiment] = out
        return made[experiment]

    return make


@pytest.fixture(scope="session")
def quickstart(make_run: Callable[[str], Path]) -> Path:
    return make_run("quickstart")


@pytest.fixture
def quickstart_copy(quickstart: Path, tmp_path: Path) -> Path:
    """A copy of the quickstart run folder that a test may damage."""
    return Path(shutil.copytree(quickstart, tmp_path / quickstart.name))
