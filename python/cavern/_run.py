"""A run folder written by `cavern run`, opened for reading (layout in docs/tables.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from ._cavs import Cav, cav_file_name, read_cavs
from ._errors import MissingFileError, RunFolderError, UnknownNameError
from ._experiment import REPORT_FILE, experiment_text

if TYPE_CHECKING:
    import pandas

MANIFEST_FILE = "manifest.json"
TABLES_DIR = "tables"

StrPath = str | os.PathLike[str]


class Tables(Mapping[str, pl.DataFrame]):
    """A run's tables by name (those `manifest.json` lists), each read from
    `tables/NAME.parquet` as a polars DataFrame the first time it is asked for."""

    def __init__(self, folder: Path, names: Iterable[str]) -> None:
        self._folder = folder
        self._names = list(names)
        self._read: dict[str, pl.DataFrame] = {}

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self._read:
            self._read[name] = self._read_table(name)
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        return f"Tables({', '.join(self._names)})"

    def pandas(self, name: str) -> pandas.DataFrame:
        """The table `name` as a pandas DataFrame (needs pandas and pyarrow:
        `pip install 'cavern[pandas]'`)."""
        table = self[name]
        try:
            return table.to_pandas()
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                f"reading a table as a pandas DataFrame needs pandas and pyarrow ({error}): "
                "pip install 'cavern[pandas]'"
            ) from error

    def _read_table(self, name: str) -> pl.DataFrame:
        if name not in self._names:
            raise UnknownNameError(
                f"{self._folder} has no table {name!r}; it has: {', '.join(self._names) or 'none'} "
                "(a study kind the experiment file lacks, or a table with no rows, is not written)"
            )
        path = self._folder / TABLES_DIR / f"{name}.parquet"
        if not path.is_file():
            raise MissingFileError(f"{path} is missing, although {MANIFEST_FILE} lists table {name!r}", path)
        try:
            return pl.read_parquet(path)
        except Exception as error:  # polars raises several error types for a damaged file
            raise RunFolderError(f"{path}: not a readable Parquet file: {error}") from error


class Run:
    """A run folder written by `cavern run`, opened with `open_run`.

    Attributes:
        path: the run folder.
        manifest: `manifest.json` as a dict (experiment, model, cavern version, seed, timings,
            tables).
        tables: every table the run wrote, by name, as polars DataFrames read on first use
            (`run.tables["tcav"]`; `run.tables.pandas("tcav")` for pandas).
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self.tables = Tables(path, manifest["tables"])

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, experiment={self.name!r}, model={self.model!r})"

    @property
    def name(self) -> str:
        """The experiment's name (`[experiment] name`)."""
        return str(self.manifest["experiment"]["name"])

    @property
    def model(self) -> str:
        """The model's name, as the manifest records it."""
        return str(self.manifest["model"]["name"])

    @property
    def seed(self) -> int:
        """The seed every random choice of the run flowed from."""
        return int(self.manifest["seed"])

    @property
    def report_path(self) -> Path:
        """The run's self-contained `report.html`."""
        path = self.path / REPORT_FILE
        if not path.is_file():
            raise MissingFileError(f"{path} is missing (`cavern report {self.path}` re-renders it)", path)
        return path

    @cached_property
    def experiment_text(self) -> str:
        """The text of the experiment file the run ran, byte for byte (checked by SHA-256): the
        copy in `report.html`, or else the file the manifest names, relative to the directory
        `cavern run` ran in."""
        experiment = self.manifest["experiment"]
        return experiment_text(self.path, str(experiment["path"]), str(experiment["sha256"]))

    @cached_property
    def cavs(self) -> Mapping[str, Cav]:
        """Every CAV file in `cavs/`, by file name without extension (`praise.L1.resid_pre`):
        the TCAV studies' concept-vs-random CAVs as numpy arrays. Empty without a TCAV study."""
        return read_cavs(self.path)

    def cav(self, concept: str, layer: int, site: str | None = None) -> Cav:
        """The CAVs of `concept` at `layer` (and `site`, needed only when the run has several)."""
        found = [c for c in self.cavs.values()
                 if c.concept == concept and c.layer == layer and site in (None, c.site)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            sites = ", ".join(sorted(c.site for c in found))
            raise UnknownNameError(f"{self.path}: {concept!r} has CAVs at layer {layer} at several sites "
                                   f"({sites}); pass site=")
        if "tcav" in self.tables and site is not None:
            expected = self.tables["tcav"].filter(
                (pl.col("concept") == concept) & (pl.col("layer") == layer) & (pl.col("site") == site)
            )
            if expected.height:
                path = self.path / "cavs" / f"{cav_file_name(concept, layer, site)}.safetensors"
                raise MissingFileError(f"{path} is missing, although the tcav table has its row", path)
        have = ", ".join(self.cavs) or "none"
        raise UnknownNameError(f"{self.path} has no CAV of {concept!r} at layer {layer}"
                               + (f", site {site!r}" if site else "") + f"; it has: {have}")


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise MissingFileError(f"no run folder at {folder}", folder)
    if not path.is_file():
        partial = folder.name.startswith(".") and ".partial-" in folder.name
        why = "a run still being written, or one that was interrupted" if partial else "not a run folder written by `cavern run`, or an interrupted run"
        raise MissingFileError(f"{path} is missing: {folder} is {why}", path)
    try:
        manifest = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f":{error.lineno}:{error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        raise RunFolderError(f"{path}{where}: not valid JSON: {error}") from error
    problems = []
    if not isinstance(manifest, dict):
        problems.append("is not a JSON object")
    else:
        tables = manifest.get("tables")
        if not (isinstance(tables, list) and all(isinstance(t, str) for t in tables)):
            problems.append("has no `tables` list of names")
        experiment = manifest.get("experiment")
        if not (isinstance(experiment, dict) and {"name", "path", "sha256"} <= experiment.keys()):
            problems.append("has no `experiment` with name, path and sha256")
        if not (isinstance(manifest.get("model"), dict) and "name" in manifest["model"]):
            problems.append("has no `model` with a name")
    if problems:
        raise RunFolderError(f"{path} {' and '.join(problems)}: not a cavern manifest")
    return cast(dict[str, Any], manifest)


def open_run(path: StrPath) -> Run:
    """Opens the run folder at `path` (a folder `cavern run` wrote).

    Reads `manifest.json` now; tables, CAVs and the experiment text are read when first used.
    Raises MissingFileError (a FileNotFoundError) naming the missing file, or RunFolderError
    saying which file is damaged and how.
    """
    folder = Path(path).expanduser()
    return Run(folder, _read_manifest(folder))


def newest_run(root: StrPath = "runs", tables: Iterable[str] = ()) -> Run:
    """The run folder under `root` whose manifest was written last, among those with at least
    one of `tables` (any run when `tables` is empty). Folders still being written (hidden
    `.NAME.partial-PID`) are skipped."""
    root = Path(root).expanduser()
    wanted = set(tables)
    candidates = []
    for manifest in root.glob(f"*/{MANIFEST_FILE}"):
        if manifest.parent.name.startswith("."):
            continue
        run = open_run(manifest.parent)
        if not wanted or wanted & set(run.tables):
            candidates.append((manifest.stat().st_mtime, run.path.name, run))
    if not candidates:
        having = f" with a table among {', '.join(sorted(wanted))}" if wanted else ""
        raise MissingFileError(
            f"no run folder{having} under {root}: run `cavern run EXPERIMENT.toml` first, or open one by path",
            root,
        )
    return max(candidates, key=lambda c: c[:2])[2]
