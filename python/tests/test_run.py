"""`cavern.open_run` on run folders the binary wrote: what it reads, and the errors it gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import cavern
from conftest import REPO


def test_the_manifest_is_the_json_file(quickstart: Path) -> None:
    run = cavern.open_run(quickstart)
    assert run.manifest == json.loads((quickstart / "manifest.json").read_text())
    assert (run.name, run.model, run.seed) == ("quickstart", "toy-sentiment", 7)
    assert run.path == quickstart
    assert "quickstart" in repr(run) and "toy-sentiment" in repr(run)


def test_open_run_takes_a_string_and_expands_the_home_folder(quickstart: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(quickstart.parent))
    assert cavern.open_run(f"~/{quickstart.name}").manifest["seed"] == 7


@pytest.mark.parametrize("experiment", ["quickstart", "toy_recall_interventions"])
def test_every_table_reads_with_the_values_of_its_csv(make_run: Callable[[str], Path], experiment: str) -> None:
    run = cavern.open_run(make_run(experiment))
    assert list(run.tables) == run.manifest["tables"] and len(run.tables) > 3
    for name, table in run.tables.items():
        assert isinstance(table, pl.DataFrame) and table.height > 0, name
        csv = pl.read_csv(run.path / "tables" / f"{name}.csv", schema=table.schema)
        assert_frame_equal(table, csv, check_exact=True)
        assert run.tables[name] is table, "read once"


def test_the_quickstart_finds_praise_and_not_colour(quickstart: Path) -> None:
    tcav = cavern.open_run(quickstart).tables["tcav"]
    significant = tcav.filter(pl.col("significant")).select("concept", "layer").rows()
    assert ("praise", 1) in significant
    assert all(concept != "colour" for concept, _ in significant)
    assert tcav.schema["layer"] == pl.UInt64 and tcav.schema["significant"] == pl.Boolean


def test_patching_keeps_its_nulls(make_run: Callable[[str], Path]) -> None:
    patching = cavern.open_run(make_run("toy_recall_interventions")).tables["patching"]
    heads = patching.filter(pl.col("site") == "head")
    assert heads.height > 0 and heads["position"].null_count() == heads.height
    assert heads["head"].null_count() == 0
    # The known answer of toy-recall: patching head 1.1 alone recovers the answer.
    best = heads.filter(pl.col("direction") == "denoise").sort("recovered", descending=True).row(0, named=True)
    assert (best["layer"], best["head"]) == (1, 1) and best["recovered"] > 0.99


def test_cavs_are_the_safetensors_and_npy_files(quickstart: Path) -> None:
    run = cavern.open_run(quickstart)
    files = sorted(p.name.removesuffix(".safetensors") for p in (quickstart / "cavs").glob("*.safetensors"))
    assert sorted(run.cavs) == files == [
        "colour.L0.resid_pre", "colour.L1.resid_pre", "praise.L0.resid_pre", "praise.L1.resid_pre"]
    runs = run.tables["tcav_runs"]
    for name, cav in run.cavs.items():
        assert (cav.concept, f"L{cav.layer}", cav.site) == tuple(name.split("."))
        assert cav.directions.dtype == np.float32 and cav.directions.shape == (50, 32) and cav.runs == 50
        np.testing.assert_array_equal(cav.directions, np.load(quickstart / "cavs" / f"{name}.npy"))
        np.testing.assert_allclose(np.linalg.norm(cav.directions, axis=1), 1.0, rtol=1e-5)
        own = runs.filter((pl.col("concept") == cav.concept) & (pl.col("layer") == cav.layer)).sort("run")
        np.testing.assert_array_equal(cav.accuracies, own["cav_accuracy"].to_numpy().astype(np.float32))
        mean = cav.directions.astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(cav.mean_direction, mean / np.linalg.norm(mean))
    assert run.cav("praise", 1) is run.cavs["praise.L1.resid_pre"]
    assert run.cav("praise", 1, "resid_pre") is run.cavs["praise.L1.resid_pre"]


def test_a_run_without_tcav_has_no_cavs(make_run: Callable[[str], Path]) -> None:
    run = cavern.open_run(make_run("toy_recall_interventions"))
    assert dict(run.cavs) == {}
    with pytest.raises(cavern.UnknownNameError, match="has no CAV of 'praise' at layer 1; it has: none"):
        run.cav("praise", 1)


def test_the_experiment_text_is_the_file_the_run_ran(quickstart_copy: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # From a directory where the recorded relative path names nothing: the report's copy.
    monkeypatch.chdir(tmp_path)
    run = cavern.open_run(quickstart_copy)
    assert run.manifest["experiment"]["path"] == "experiments/quickstart.toml"
    assert run.experiment_text == (REPO / "experiments" / "quickstart.toml").read_bytes().decode()

    # Without the report as well: both places it looked are named.
    (quickstart_copy / "report.html").unlink()
    with pytest.raises(cavern.RunFolderError) as error:
        _ = cavern.open_run(quickstart_copy).experiment_text
    message = str(error.value)
    assert "report.html: missing" in message
    assert "experiments/quickstart.toml: No such file or directory" in message


def test_the_experiment_text_falls_back_to_the_recorded_file(quickstart_copy: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (quickstart_copy / "report.html").write_text("<html>a report from elsewhere</html>")
    recorded = Path(cavern.open_run(quickstart_copy).manifest["experiment"]["path"])
    assert not recorded.is_absolute()
    original = (REPO / "experiments" / "quickstart.toml").read_bytes()
    workdir = tmp_path / "workdir"
    (workdir / recorded).parent.mkdir(parents=True, exist_ok=True)
    (workdir / recorded).write_bytes(original)
    monkeypatch.chdir(workdir)
    assert cavern.open_run(quickstart_copy).experiment_text == original.decode()

    (workdir / recorded).write_bytes(original + b"# edited after the run\n")
    with pytest.raises(cavern.RunFolderError, match="no 'Experiment file' section.*changed since the run"):
        _ = cavern.open_run(quickstart_copy).experiment_text


def test_the_report_path(quickstart_copy: Path) -> None:
    run = cavern.open_run(quickstart_copy)
    assert run.report_path == quickstart_copy / "report.html"
    (quickstart_copy / "report.html").unlink()
    with pytest.raises(cavern.MissingFileError, match="report.html is missing"):
        _ = run.report_path


def test_pandas_on_request(quickstart: Path) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    run = cavern.open_run(quickstart)
    frame = run.tables.pandas("tcav")
    assert list(frame.columns) == run.tables["tcav"].columns
    assert frame["tcav_mean"].tolist() == run.tables["tcav"]["tcav_mean"].to_list()


def test_no_folder_and_no_manifest_name_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"no run folder at {tmp_path / 'nope'}"):
        cavern.open_run(tmp_path / "nope")
    partial = tmp_path / ".quickstart-1.partial-42"
    partial.mkdir()
    with pytest.raises(cavern.MissingFileError, match="manifest.json is missing: .* still being written") as error:
        cavern.open_run(partial)
    assert error.value.path == partial / "manifest.json"


def test_a_damaged_manifest_says_where(quickstart_copy: Path) -> None:
    manifest = quickstart_copy / "manifest.json"
    manifest.write_text('{\n  "seed": 7,\n  oops\n}')
    with pytest.raises(cavern.RunFolderError, match=r"manifest.json:3:3: not valid JSON"):
        cavern.open_run(quickstart_copy)
    manifest.write_text('{"seed": 7}')
    with pytest.raises(cavern.RunFolderError, match="has no `tables` list of names and has no `experiment`"):
        cavern.open_run(quickstart_copy)


def test_missing_unknown_and_damaged_tables(quickstart_copy: Path) -> None:
    run = cavern.open_run(quickstart_copy)
    with pytest.raises(KeyError) as unknown:
        run.tables["patching"]
    assert str(unknown.value).startswith(f"{quickstart_copy} has no table 'patching'; it has: examples, probe, tcav")
    assert "patching" not in run.tables

    (quickstart_copy / "tables" / "tcav.parquet").unlink()
    with pytest.raises(cavern.MissingFileError, match="tcav.parquet is missing, although manifest.json lists"):
        run.tables["tcav"]
    (quickstart_copy / "tables" / "probe.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(cavern.RunFolderError, match="probe.parquet: not a readable Parquet file"):
        run.tables["probe"]


def test_missing_and_damaged_cav_files(quickstart_copy: Path) -> None:
    (quickstart_copy / "cavs" / "praise.L1.resid_pre.safetensors").unlink()
    run = cavern.open_run(quickstart_copy)
    with pytest.raises(cavern.MissingFileError, match="praise.L1.resid_pre.safetensors is missing, although the tcav"):
        run.cav("praise", 1, "resid_pre")
    (quickstart_copy / "cavs" / "colour.L0.resid_pre.safetensors").write_bytes(b"\x08\0\0\0\0\0\0\0{}garbage")
    with pytest.raises(cavern.RunFolderError, match="colour.L0.resid_pre.safetensors: not a readable safetensors"):
        _ = cavern.open_run(quickstart_copy).cavs


def test_newest_run_picks_by_tables(make_run: Callable[[str], Path], tmp_path: Path) -> None:
    root = tmp_path / "runs"
    with pytest.raises(FileNotFoundError, match=f"no run folder under {root}"):
        cavern.newest_run(root)
    recall = Path(shutil.copytree(make_run("toy_recall_interventions"), root / "recall"))
    quick = Path(shutil.copytree(make_run("quickstart"), root / "quick"))
    os.utime(recall / "manifest.json", (1, 1))
    (root / ".quick-2.partial-7").mkdir()
    assert cavern.newest_run(root).path == quick
    assert cavern.newest_run(root, tables=["patching", "pruning_curve"]).path == recall
    with pytest.raises(cavern.MissingFileError, match="no run folder with a table among steering under"):
        cavern.newest_run(root, tables=["steering"])


def test_the_installed_command_is_this_version(cavern_binary: str) -> None:
    out = subprocess.run([cavern_binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["cavern", cavern.__version__]
