"""`zoo list` start-up of two checkouts, measured the same way in turns: fresh processes, one venv.

Each checkout is put first on PYTHONPATH (zoo_core, cli/, plugins/), the command is run from a
neutral folder, and the rounds alternate between the checkouts so that a busy machine weighs on
both alike. Run (e.g. before and after a refactoring; OLD from ``git archive REV zoo_core cli
plugins registry.json | tar -x -C OLD``):

    .venv/bin/python benchmarks/compare_startup.py OLD NEW [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    cmd = [sys.executable, "-c", "from zoo_cli.main import main; main()", "list"]
    times: dict[Path, list[float]] = {tree: [] for tree in args.trees}
    with tempfile.TemporaryDirectory() as neutral:
        for _ in range(args.rounds):
            for tree in args.trees:
                root = tree.resolve()
                env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (root, root / "cli", root / "plugins")))
                began = time.perf_counter()
                subprocess.run(cmd, env=env, cwd=neutral, capture_output=True, check=True)
                times[tree].append(time.perf_counter() - began)
    for tree, seconds in times.items():
        print(f"{str(tree):30} median {statistics.median(seconds) * 1000:6.0f} ms   "
              f"min {min(seconds) * 1000:6.0f} ms   (n={len(seconds)})")


if __name__ == "__main__":
    main()
