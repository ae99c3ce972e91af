"""How time and peak memory grow with input size: a descriptor, a Dockerfile for `cigen kaniko`
and a repository for `cigen init`, each at 1x, 10x, 100x and 1000x its usual size.

    python benchmarks/size_growth.py

Each run is a fresh process; peak memory is its maximum resident set. Growth should be about
linear (10x the input, about 10x the time above the start-up cost), and inputs too large to be
real are refused early (the refusal is what the largest sizes measure).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SCALES = (1, 10, 100, 1000)
HEAD = 'version: 1\nname: app\nregistry: ghcr.io/acme\nerlang: {otp: "26.2.5"}\ntargets: []\n'


def descriptor(root: Path, n: int) -> list[str]:
    env = "".join(f"    VAR_{i}: value-{i}\n" for i in range(10 * n))
    (root / "cigen.yaml").write_text(HEAD + "image:\n  env:\n" + env, "utf-8")
    return ["check"]


def dockerfile(root: Path, n: int) -> list[str]:
    body = "".join(f"echo line {i}\n" for i in range(40 * n))
    continued = "".join(f"    echo {i} && \\\n" for i in range(20 * n))
    (root / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\nFROM alpine:3.22 AS runner\n"
        f"RUN <<EOF\n{body}EOF\nRUN true && \\\n{continued}    true\n", "utf-8")
    return ["kaniko", "Dockerfile"]


def repository(root: Path, n: int) -> list[str]:
    deps = ",\n".join(f'  {{dep_{i}, "1.0.{i}"}}' for i in range(20 * n))
    (root / "rebar.config").write_text(
        f"{{deps, [\n{deps}\n]}}.\n{{relx, [{{release, {{app, \"1\"}}, [app]}}]}}.\n", "utf-8")
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True)
    steps = "".join(f"      - run: echo {i}\n" for i in range(30 * n))
    (workflows / "ci.yml").write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: erlef/setup-beam@v1\n        with: {otp-version: '26.2.5'}\n" + steps,
        "utf-8")
    return ["init", "."]


def measure(make: Callable[[Path, int], list[str]], n: int) -> tuple[int, float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        args = make(root, n)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        env = {**os.environ, "CIGEN_CACHE_DIR": str(root / ".cache")}
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "cigen", *args], cwd=root, env=env,  # noqa: S603
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the maximum
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        return size, seconds, usage.ru_maxrss / 1024, child.returncode


def main() -> None:
    print(f"{'input':12} {'scale':>6} {'bytes':>10} {'seconds':>8} {'peak MiB':>9} exit")
    for name, make in (("descriptor", descriptor), ("dockerfile", dockerfile),
                       ("repository", repository)):
        for n in SCALES:
            size, seconds, peak, code = measure(make, n)
            print(f"{name:12} {n:>5}x {size:>10} {seconds:>8.2f} {peak:>9.1f} {code}")


if __name__ == "__main__":
    main()
