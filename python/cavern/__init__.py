"""Read cavern run folders from Python.

`cavern run EXPERIMENT.toml` writes a run folder: `manifest.json`, one table per study in
`tables/` (Parquet and CSV), the CAVs in `cavs/` and a self-contained `report.html`.
`open_run` opens one::

    import cavern

    run = cavern.open_run("runs/quickstart-1a2b3c4d")
    run.manifest["seed"]             # manifest.json as a dict
    run.tables["tcav"]               # a polars DataFrame; run.tables.pandas("tcav") for pandas
    run.cav("praise", 1).directions  # numpy float32 [runs, width]
    run.experiment_text              # the experiment file the run ran
    run.report_path                  # report.html

The columns of every table are documented in docs/tables.md of the cavern repository. The
wheel that installs this package also installs the `cavern` command.
"""

from importlib.metadata import PackageNotFoundError, version

from ._cavs import Cav
from ._errors import MissingFileError, RunFolderError, UnknownNameError
from ._run import Run, Tables, newest_run, open_run

try:
    __version__ = version("cavern")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "unknown"

__all__ = [
    "Cav",
    "MissingFileError",
    "Run",
    "RunFolderError",
    "Tables",
    "UnknownNameError",
    "__version__",
    "newest_run",
    "open_run",
]
