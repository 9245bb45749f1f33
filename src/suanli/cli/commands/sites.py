"""``suanli sites``, ``suanli usage`` and ``suanli top`` (a live view of the federation)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from suanli.cli.render import add_api_flags, client, emit, print_table


def register(sub: Any) -> None:
    p = sub.add_parser("sites", help="list sites, their pools, health and free capacity")
    add_api_flags(p)
    p.set_defaults(func=sites)
    p = sub.add_parser("usage", help="metered usage (PF16-hours, kWh, kg CO2, cost)")
    p.add_argument("--by", default="job", choices=["job", "tenant", "site"])
    p.add_argument("--tenant", default=None)
    p.add_argument("--site", default=None)
    add_api_flags(p)
    p.set_defaults(func=usage)
    p = sub.add_parser("top", help="a live view: capacity, utilization, queue, recent jobs")
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    add_api_flags(p)
    p.set_defaults(func=top)


def sites(args: argparse.Namespace) -> int:
    data = client(args).get("/v1/sites")
    if args.json:
        emit(data)
        return 0
    rows = []
    for s in data["items"]:
        free = s["live"].get("free", {})
        for pl in s["pools"]:
            declared = pl["per_node"] * pl["nodes"]
            seen = pl.get("observed_total")
            engine = "-" if seen is None else f"{seen}/{declared}" + (" (short)" if seen < declared else "")
            rows.append([s["name"], s["region"], s["tier"], s.get("engine", "local"), s["state"], s["health"],
                         pl["name"], pl["accelerator"], declared, engine, free.get(pl["name"], "-"),
                         s["price_per_pf16h"]])
    print_table(rows, ["SITE", "REGION", "TIER", "ENGINE", "STATE", "HEALTH", "POOL", "ACCELERATOR", "DECLARED",
                       "ENGINE SEES", "FREE", "PRICE/PF16H"])
    return 0


def usage(args: argparse.Namespace) -> int:
    data = client(args).get("/v1/usage", by=args.by, tenant=args.tenant, site=args.site)
    if args.json:
        emit(data)
        return 0
    print_table([[i[args.by], f"{i['pf16h']:.6f}", f"{i['energy_kwh']:.6f}", f"{i['carbon_kg']:.6f}", i["cost"],
            f"{i['runtime_s']:.1f}", i["running"]] for i in data["items"]],
          [args.by.upper(), "PF16H", "KWH", "KG_CO2", "COST", "RUN_S", "RUNNING"])
    t = data["total"]
    print(f"total: {t['pf16h']:.6f} PF16-h, {t['energy_kwh']:.6f} kWh, {t['carbon_kg']:.6f} kg CO2, cost {t['cost']}")
    return 0


def top(args: argparse.Namespace) -> int:
    c = client(args)
    while True:
        fed = c.get("/v1/federation")
        jobs = c.get("/v1/jobs", limit=10)
        if args.json:
            emit({"federation": fed, "jobs": jobs})
        else:
            if not args.once:
                sys.stdout.write("\x1b[2J\x1b[H")
            t = fed["total"]
            q = fed["queue"]
            print(f"suanli top  {time.strftime('%H:%M:%S')}  capacity {t['pflops_fp16']:.3f} PFLOPS FP16 "
                  f"({t['accelerators']} accelerators)  utilization {fed['utilization']['total']:.0%}  "
                  f"pending {q['pending']}  placed {q['placed']}  running {q['running']}")
            print_table([[n, s["region"], s["tier"], s["health"], s["state"], f"{fed['by_site'][n]['pflops_fp16']:.3f}",
                    f"{fed['utilization']['by_site'].get(n, 0):.0%}"] for n, s in fed["sites"].items()],
                  ["SITE", "REGION", "TIER", "HEALTH", "STATE", "PFLOPS16", "UTIL"])
            print()
            print_table([[j["id"], j["tenant"], j["state"], j["gpus"], j["site"] or "-", j["reason"][:50]]
                   for j in jobs["items"]], ["JOB", "TENANT", "STATE", "GPUS", "SITE", "REASON"])
        if args.once:
            return 0
        time.sleep(args.interval)
