#!/usr/bin/env python3
"""Execute the project's notebooks headlessly with nbclient; fail on any cell error.

    python .ci/run-notebooks.py [NOTEBOOK ...] [--out DIR] [--timeout SECONDS]

Without NOTEBOOK arguments it runs every notebooks/*.ipynb. Each notebook runs in its own
folder (as Jupyter would) in the Python that runs this script, so run it with the venv that has
requirements-notebooks.txt installed. The notebooks find their run folder through CAVERN_RUN.
Committed notebooks must have their outputs cleared; a notebook with outputs fails too. With
--out, the executed copies (with outputs) are written to DIR for a person to open; the committed
files are never modified. Exit status 0 when every notebook ran cleanly, 1 otherwise.
"""

import argparse
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, help="write the executed notebooks here")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    args = ap.parse_args()

    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        print("run-notebooks: no notebooks found", file=sys.stderr)
        return 1
    print(f"run-notebooks: CAVERN_RUN={os.environ.get('CAVERN_RUN') or '(unset: the newest run under runs/)'}")

    passed = failed = 0
    for path in notebooks:
        path = path.resolve()
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
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

        # ipykernel 7 warns on stderr that the kernel "is running over TCP without encryption":
        # harmless here, the kernel only listens on 127.0.0.1 for this one client.
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.monotonic()
        try:
            client.execute()
        except CellExecutionError as e:
            print(f"FAIL {name}: a cell raised an error:\n{e}", file=sys.stderr)
            ok = False
        except Exception as e:  # kernel died, timeout, ...
            print(f"FAIL {name}: {type(e).__name__}: {e}", file=sys.stderr)
            ok = False
        seconds = time.monotonic() - start

        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, args.out / path.name)
        if ok:
            passed += 1
            print(f"ok   {name} ({len(nb.cells)} cells, {seconds:.1f} s)"
                  + (f" -> {args.out / path.name}" if args.out else ""))
        else:
            failed += 1

    print(f"notebooks: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
