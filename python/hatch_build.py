"""Hatchling build hook: packs an already-built `cavern` binary into the wheel as its command.

The binary is `$CAVERN_BINARY`, else the repository's `target/release/cavern`; whatever cargo
features it was built with, the wheel is the same apart from the binary. Installing the wheel
puts it on PATH as `cavern` (the way ruff and uv ship theirs). The wheel is tagged for this
platform (py3-none-PLATFORM): the Python code is pure, the binary is not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXE = ".exe" if sys.platform == "win32" else ""


def platform_tag() -> str:
    """This interpreter's platform as a wheel tag, e.g. `linux_x86_64`."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


class CavernBinaryHook(BuildHookInterface[BuilderConfig]):
    """Adds the binary as the script `cavern` and marks the wheel platform-specific."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        default = Path(self.root).parent / "target" / "release" / f"cavern{EXE}"
        binary = Path(os.environ.get("CAVERN_BINARY") or default).resolve()
        if not binary.is_file():
            raise FileNotFoundError(
                f"no cavern binary at {binary}: build it first (`cargo build --release` at the "
                "repository root) or set CAVERN_BINARY to one"
            )
        reported = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.split()
        expected = ["cavern", self.metadata.version]
        if reported != expected:
            raise ValueError(
                f"{binary} reports version {' '.join(reported) or '(nothing)'}, but the wheel is "
                f"{' '.join(expected)} (Cargo.toml): rebuild it from this checkout"
            )
        build_data["shared_scripts"][str(binary)] = f"cavern{EXE}"
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{platform_tag()}"
