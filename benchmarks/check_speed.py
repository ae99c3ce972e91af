"""Time `cigen check` on the service_discovery fixture against the floor of importing ruamel.yaml.

Both are measured in the same run, interleaved, so the ratio holds on any machine:
    python benchmarks/check_speed.py [--runs 30]
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

ROOT = Path(__file__).resolve().parent.parent
CIGEN = Path(sys.executable).parent / "cigen"
CHECK = [str(CIGEN), "check", "-c", str(ROOT / "fixtures" / "service_discovery" / "cigen.yaml")]
COLD = "cigen check, cold (no check cache)"
CASES = {
    "floor: python -c 'import ruamel.yaml'": [sys.executable, "-c", "import ruamel.yaml"],
    "cigen check, warm (descriptor unchanged)": CHECK,
    COLD: CHECK,
}


# Byte-code caches on, as for a user: without them every run recompiles every module.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(argv: list[str], env: dict[str, str] = ENV) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False, env=env)  # noqa: S603
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for argv in CASES.values():  # warm-up: write the byte-code caches
        once(argv)
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(runs):
            cold = {**ENV, "CIGEN_CACHE_DIR": os.path.join(scratch, str(i))}
            for name, argv in CASES.items():
                times[name].append(once(argv, cold if name == COLD else ENV))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name:45} median {median * 1000:7.1f} ms over {runs} runs")
    floor, warm, cold_median = medians.values()
    print(f"ratio, warm: {warm / floor:.2f}x the floor (goal: at most 2.0x)")
    print(f"ratio, cold: {cold_median / floor:.2f}x the floor (goal: at most 4.0x)")


if __name__ == "__main__":
    main()
