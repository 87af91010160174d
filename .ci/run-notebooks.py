#!/usr/bin/env python3
"""Execute the project's notebooks headlessly with nbclient; fail on any cell error.

    python .ci/run-notebooks.py [NOTEBOOK ...] [--out DIR] [--timeout SECONDS]
    python .ci/run-notebooks.py --run NOTEBOOK RUN_FOLDER [--run ...] [--out DIR]

Without --run, each NOTEBOOK (default: every notebooks/*.ipynb) runs once against the run folder
in CAVERN_RUN (unset: the newest suitable run under runs/). Each --run executes NOTEBOOK with
CAVERN_RUN=RUN_FOLDER; a notebook may be given several runs, and every notebooks/*.ipynb must
get at least one, so that no notebook goes unexecuted. Each notebook runs in its own folder (as
Jupyter would) in the Python that runs this script, so run it with a venv that has
requirements-notebooks.txt and the cavern wheel installed. Committed notebooks must have their
outputs cleared; a notebook with outputs fails too. With --out, the executed copies (with
outputs) are written to DIR as NAME.RUN.ipynb, and each figure they drew as
NAME.RUN.cellC-K.png, for a person to look at; the committed files are never modified. Exit
status 0 when every execution ran cleanly, 1 otherwise.
"""

import argparse
import base64
import os
import sys
import time
from pathlib import Path

# Prefer this Python's own kernelspec over any a user installed under ~/.local/share/jupyter.
os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellExecutionError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def executions(args: argparse.Namespace) -> list[tuple[Path, str | None]]:
    """(notebook, run folder or None for the CAVERN_RUN already set) pairs to execute."""
    if not args.run:
        notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
        return [(path.resolve(), None) for path in notebooks]
    if args.notebooks:
        sys.exit("run-notebooks: give notebooks either as arguments or with --run, not both")
    pairs = [(Path(notebook).resolve(), str(Path(run).resolve())) for notebook, run in args.run]
    unexecuted = sorted(set((ROOT / "notebooks").glob("*.ipynb")) - {notebook for notebook, _ in pairs})
    if unexecuted:
        sys.exit("run-notebooks: no --run for " + ", ".join(str(p.relative_to(ROOT)) for p in unexecuted))
    return pairs


def save_figures(nb: nbformat.NotebookNode, out: Path, stem: str) -> int:
    """Writes every PNG the executed notebook shows to out/STEM.cellC-K.png; returns how many."""
    count = 0
    for c, cell in enumerate(nb.cells):
        images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for k, image in enumerate(images):
            (out / f"{stem}.cell{c}-{k}.png").write_bytes(base64.b64decode(image))
            count += 1
    return count


def execute(path: Path, run: str | None, timeout: int, out: Path | None) -> bool:
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    label = f"{name} against {run or os.environ.get('CAVERN_RUN') or '(the newest run under runs/)'}"
    nb = nbformat.read(path, as_version=4)
    ok = True
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        print(f"FAIL {name}: not a valid nbformat 4 notebook: {e}", file=sys.stderr)
        ok = False
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    if dirty:
        print(f"FAIL {name}: outputs not cleared in code cell(s) {dirty} (clear them before committing)",
              file=sys.stderr)
        ok = False

    if run is not None:
        os.environ["CAVERN_RUN"] = run  # the kernel inherits this process's environment
    # ipykernel 7 warns on stderr that the kernel "is running over TCP without encryption":
    # harmless here, the kernel only listens on 127.0.0.1 for this one client.
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as e:
        print(f"FAIL {label}: a cell raised an error:\n{e}", file=sys.stderr)
        ok = False
    except Exception as e:  # kernel died, timeout, ...
        print(f"FAIL {label}: {type(e).__name__}: {e}", file=sys.stderr)
        ok = False
    seconds = time.monotonic() - start

    saved = ""
    if out:
        out.mkdir(parents=True, exist_ok=True)
        stem = path.stem + (f".{Path(run).name}" if run else "")
        nbformat.write(nb, out / f"{stem}.ipynb")
        saved = f", {save_figures(nb, out, stem)} figures -> {out / stem}.*"
    if ok:
        print(f"ok   {label} ({len(nb.cells)} cells, {seconds:.1f} s{saved})")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--run", nargs=2, action="append", metavar=("NOTEBOOK", "RUN_FOLDER"),
                    help="execute NOTEBOOK against RUN_FOLDER (repeatable)")
    ap.add_argument("--out", type=Path, help="write the executed notebooks and their figures here")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    args = ap.parse_args()

    pairs = executions(args)
    if not pairs:
        print("run-notebooks: no notebooks found", file=sys.stderr)
        return 1
    results = [execute(path, run, args.timeout, args.out) for path, run in pairs]
    passed = sum(results)
    print(f"notebooks: {passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
