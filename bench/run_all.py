"""Run every benchmark in this folder, one after another, printing their figures.

`make bench` calls this; each benchmark is also a script of its own (`python bench/kb.py`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ("kb.py", "queue.py", "pipeline.py")


def main() -> int:
    here = Path(__file__).parent
    failed = []
    for name in BENCHES:
        print(f"\n=== bench/{name} ===", flush=True)
        if subprocess.run([sys.executable, str(here / name), *sys.argv[1:]], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
