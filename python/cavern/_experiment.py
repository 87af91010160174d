"""The text of the experiment file a run ran, checked against the SHA-256 its manifest records.

A run folder keeps the text inside `report.html` (its "Experiment file" section); the file the
manifest names, relative to the directory `cavern run` was started in, is the other place to
look. Either copy is used only when its SHA-256 is the manifest's, so a reworded report or an
edited file gives an error, never a wrong text.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

from ._errors import RunFolderError

REPORT_FILE = "report.html"

_REPORT_SECTION = re.compile(r"<h2>Experiment file</h2>\s*<pre>(.*?)</pre>", re.DOTALL)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def from_report(report: Path) -> str | None:
    """The experiment file text shown in a report's "Experiment file" section, unescaped."""
    if not report.is_file():
        return None
    found = _REPORT_SECTION.search(report.read_bytes().decode("utf-8", errors="replace"))
    return html.unescape(found.group(1)) if found else None


def experiment_text(folder: Path, recorded_path: str, sha256: str) -> str:
    """The experiment file the run in `folder` ran, from its report or from `recorded_path`.

    Raises RunFolderError saying where it looked when neither copy has the recorded SHA-256.
    """
    tried = []
    report = folder / REPORT_FILE
    text = from_report(report)
    if text is not None and _sha256(text) == sha256:
        return text
    tried.append(
        f"{report}: missing" if not report.is_file()
        else f"{report}: no 'Experiment file' section" if text is None
        else f"{report}: its copy has SHA-256 {_sha256(text)}"
    )
    recorded = Path(recorded_path)
    try:
        text = recorded.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        tried.append(f"{recorded}: {error.strerror if isinstance(error, OSError) else error}")
    else:
        if _sha256(text) == sha256:
            return text
        tried.append(f"{recorded}: changed since the run (SHA-256 {_sha256(text)})")
    raise RunFolderError(
        f"{folder}: cannot find the experiment file the run ran (SHA-256 {sha256} in manifest.json); "
        + "; ".join(tried)
    )
