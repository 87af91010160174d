"""The concept activation vectors of a run folder: `cavs/CONCEPT.L{layer}.{site}.safetensors`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors import safe_open

from ._errors import RunFolderError

#: The run folder's CAV folder.
CAVS_DIR = "cavs"


@dataclass(frozen=True)
class Cav:
    """Every concept-vs-random CAV of one concept at one layer and site (one per random run).

    Attributes:
        concept: the concept's name (a `[concepts.NAME]` table of the experiment file).
        layer: the block index, from 0.
        site: the activation site, e.g. `resid_pre`.
        directions: `float32 [runs, width]`; row r is the unit direction of the CAV trained
            against random set r, pointing towards the concept.
        accuracies: `float32 [runs]`; each CAV's held-out accuracy.
        path: the safetensors file they were read from.
    """

    concept: str
    layer: int
    site: str
    directions: npt.NDArray[np.float32]
    accuracies: npt.NDArray[np.float32]
    path: Path

    @property
    def runs(self) -> int:
        """The number of random runs (rows of `directions`)."""
        return int(self.directions.shape[0])

    @property
    def mean_direction(self) -> npt.NDArray[np.float64]:
        """The unit-length mean of the runs' directions: the vector a `[[steering]]` study with
        `vector = "<this file>"` steers along."""
        mean: npt.NDArray[np.float64] = self.directions.astype(np.float64).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if not norm > 0.0:
            raise RunFolderError(f"{self.path}: the CAV directions average to zero; they give no direction")
        return mean / norm


def read_cav(path: Path) -> Cav:
    """Reads one CAV file, checking the tensors and the `cavern` metadata docs/tables.md describes."""

    def fail(what: str) -> RunFolderError:
        return RunFolderError(f"{path}: {what} (see 'CAV files' in docs/tables.md)")

    try:
        with safe_open(path, framework="np") as file:
            metadata = file.metadata() or {}
            names = set(file.keys())
            missing = {"directions", "accuracies"} - names
            if missing:
                raise fail(f"no tensor {', '.join(sorted(missing))}")
            directions = file.get_tensor("directions")
            accuracies = file.get_tensor("accuracies")
    except RunFolderError:
        raise
    except Exception as error:  # safetensors raises its own error types for a damaged header
        raise fail(f"not a readable safetensors file: {error}") from error

    try:
        meta: Any = json.loads(metadata["cavern"])
        concept, layer, site = meta["concept"], int(meta["layer"]), meta["site"]
    except (KeyError, TypeError, ValueError) as error:
        raise fail(f"no valid `cavern` metadata ({{concept, layer, site}}): {error!r}") from error
    if directions.ndim != 2 or directions.dtype != np.float32:
        raise fail(f"`directions` is {directions.dtype} {list(directions.shape)}; expected float32 [runs, width]")
    if accuracies.shape != (directions.shape[0],) or accuracies.dtype != np.float32:
        raise fail(
            f"`accuracies` is {accuracies.dtype} {list(accuracies.shape)}; "
            f"expected float32 [{directions.shape[0]}], one per row of `directions`"
        )
    return Cav(concept=str(concept), layer=layer, site=str(site), directions=directions,
               accuracies=accuracies, path=path)


def read_cavs(folder: Path) -> dict[str, Cav]:
    """Every CAV file under `folder/cavs`, by file name without `.safetensors`
    (`praise.L1.resid_pre`); empty when the run trained none."""
    cavs = folder / CAVS_DIR
    if not cavs.is_dir():
        return {}
    return {path.name.removesuffix(".safetensors"): read_cav(path) for path in sorted(cavs.glob("*.safetensors"))}


def cav_file_name(concept: str, layer: int, site: str) -> str:
    """The file a run writes the CAVs of `concept` at (`layer`, `site`) to, without extension."""
    return f"{concept}.L{layer}.{site}"
