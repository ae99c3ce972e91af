"""Compare cigen/data/compat.json with the public sources it was curated from (maintainers only).

Needs the network; tests never run it. It edits nothing: it prints what each source says now,
next to what the table says, and marks each difference with `!`. Edit the table by hand from that
(keep its source commits and `as_of` date current) and see docs/compatibility.md.

    python -m scripts.refresh_compat
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

from cigen import compat

RAW = "https://raw.githubusercontent.com"
SETUP_BEAM = f"{RAW}/erlef/setup-beam/main/README.md"
REBAR3 = f"{RAW}/erlang/rebar3/main/README.md"
ERLANG_LIBRARY = f"{RAW}/docker-library/official-images/master/library/erlang"
DOCKERFILE = RAW + "/erlang/docker-erlang-otp/master/{line}/{variant}Dockerfile"
END_OF_LIFE = "https://endoflife.date/api/{product}.json"
_RANGE = re.compile(r"\|\s*`?(ubuntu-\d\d\.\d\d)`?\s*\|\s*([\d.]+)\s*-\s*([\d.]+)")
_REBAR3_ROW = re.compile(r"\|\s*([\d.]+(?:,\s*[\d.]+)*)\s*\|\s*(\d+)\s*-\s*(\d+)\s*\|")
_FROM = re.compile(r"^FROM\s+(\S+)", re.MULTILINE)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 -- fixed https URLs
        text: str = answer.read().decode("utf-8")
        return text


def line(label: str, now: object, table: object) -> str:
    return f"{'!' if now != table else ' '} {label}: source {now}, table {table}"


def setup_beam() -> Iterator[str]:
    runners = compat.table()["setup_beam"]["runners"]
    for label, low, high in _RANGE.findall(fetch(SETUP_BEAM)):
        yield line(f"setup-beam {label}", [low, high], runners.get(label))


def rebar3() -> Iterator[str]:
    releases = compat.table()["rebar3"]["releases"]
    for names, low, high in _REBAR3_ROW.findall(fetch(REBAR3)):
        for name in re.split(r",\s*", names):
            yield line(f"rebar3 {name}", [int(low), int(high)], releases.get(name))


def erlang_images() -> Iterator[str]:
    library = fetch(ERLANG_LIBRARY)
    lines = sorted({int(m) for m in re.findall(r"Directory:\s*(\d+)", library)})
    for major in lines:
        for variant, family in (("", "debian"), ("alpine/", "alpine")):
            text = fetch(DOCKERFILE.format(line=major, variant=variant))
            base = _FROM.findall(text)[0]
            runs = compat.table()["erlang_images"][family].get(str(major), [])
            yield line(f"erlang:{major} {family}", base, runs[-1][1] if runs else None)


def os_support() -> Iterator[str]:
    table = compat.table()["os_support"]
    for product, family in (("debian", "debian"), ("alpine-linux", "alpine")):
        for cycle in json.loads(fetch(END_OF_LIFE.format(product=product))):
            name = str(cycle.get("codename", "")).lower() if family == "debian" else cycle["cycle"]
            end = cycle.get("extendedSupport") if family == "debian" else cycle.get("eol")
            if name in table[family] or end and str(end) >= compat.as_of():
                yield line(f"{family} {name}", end, table[family].get(name))


def main() -> None:
    print(f"table as of {compat.as_of()}; `!` marks a difference to review")
    for section in (setup_beam, rebar3, erlang_images, os_support):
        rows = list(section())
        for row in rows:
            print(row)
        if not rows:  # the source's layout changed: a silent pass would claim all is current
            print(f"! {section.__name__}: no rows recognised; read the source by hand")


if __name__ == "__main__":
    main()
