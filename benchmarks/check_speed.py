"""Time `cigen check` on the service_discovery fixture against the floor of importing ruamel.yaml.

Both are measured in the same run, interleaved, so the ratio holds on any machine:
    python benchmarks/check_speed.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CIGEN = Path(sys.executable).parent / "cigen"
CASES = {
    "floor: python -c 'import ruamel.yaml'": [sys.executable, "-c", "import ruamel.yaml"],
    "cigen check (service_discovery)": [
        str(CIGEN), "check", "-c", str(ROOT / "fixtures" / "service_discovery" / "cigen.yaml"),
    ],
}


def once(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False)  # noqa: S603
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):
        for name, argv in CASES.items():
            times[name].append(once(argv))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name:45} median {median * 1000:7.1f} ms over {runs} runs")
    floor, check = medians.values()
    print(f"ratio: {check / floor:.2f}x the floor (goal: at most 2.0x)")


if __name__ == "__main__":
    main()
