"""``suanli market prices|set-price|bid|reserve|resell|ask|orders|cancel|balances``, ``suanli invoices`` and
``suanli payouts``: thin commands over the market API. Money and quantities are given and shown as
decimal strings; ``--json`` prints the API's JSON."""

from __future__ import annotations

import argparse
import time
from typing import Any

from suanli.cli.render import add_api_flags, client, emit, print_table
from suanli.config.market_file import load_grade_rules
from suanli.domain.errors import InvalidInput


def register(sub: Any) -> None:
    m = sub.add_parser("market", help="compute market: prices, spot bids, reservations, orders")
    msub = m.add_subparsers(dest="market_command", metavar="ACTION", required=True)

    p = msub.add_parser("prices", help="list prices per product, each pool's grade and ask, last spot prices")
    add_api_flags(p)
    p.set_defaults(func=prices)

    p = msub.add_parser("set-price", help="operators: new list prices (and grade rules), in force from now: "
                                          "suanli market set-price train/mid/on-demand=30.00 [...]")
    p.add_argument("prices", nargs="*", metavar="CLASS/GRADE/TERM=PRICE",
                   help="e.g. infer/top/reserved=16.00 (a decimal price per PF16-hour)")
    p.add_argument("--grades", default=None, metavar="FILE",
                   help="a grades YAML (as data/market/grades.yaml) replacing the grade rules")
    add_api_flags(p)
    p.set_defaults(func=set_price)

    p = msub.add_parser("bid", help="bid for spot compute: suanli market bid --grade mid --region ningxia "
                                    "--qty 2 --limit 9.50")
    p.add_argument("--grade", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--qty", required=True, help="PF16-hours")
    p.add_argument("--limit", required=True, help="highest price per PF16-hour")
    p.add_argument("--tenant", default=None, help="operators: bid for this tenant")
    add_api_flags(p)
    p.set_defaults(func=bid)

    p = msub.add_parser("reserve", help="reserve PF16-hours of a pool over a window at the reserved list price")
    p.add_argument("--site", required=True)
    p.add_argument("--pool", required=True)
    p.add_argument("--qty", required=True, help="PF16-hours")
    p.add_argument("--start", type=float, default=None, help="seconds UTC (default: now)")
    p.add_argument("--hours", type=float, default=24.0, help="window length (default 24)")
    p.add_argument("--class", dest="job_class", default="train", choices=["train", "finetune", "infer", "batch"])
    p.add_argument("--tenant", default=None, help="operators: reserve for this tenant")
    add_api_flags(p)
    p.set_defaults(func=reserve)

    p = msub.add_parser("resell", help="offer unused reserved compute on spot")
    p.add_argument("reservation")
    p.add_argument("--qty", required=True)
    p.add_argument("--min-price", required=True)
    add_api_flags(p)
    p.set_defaults(func=resell)

    p = msub.add_parser("ask", help="providers: post a pool's ask (price per PF16-hour, minimum quantity)")
    p.add_argument("--site", required=True)
    p.add_argument("--pool", required=True)
    p.add_argument("--price", required=True)
    p.add_argument("--min-qty", default="0")
    add_api_flags(p)
    p.set_defaults(func=ask)

    p = msub.add_parser("orders", help="your orders, trades and reservations")
    p.add_argument("--status", default=None, choices=["open", "filled", "closed"])
    p.add_argument("--tenant", default=None)
    add_api_flags(p)
    p.set_defaults(func=orders)

    p = msub.add_parser("cancel", help="cancel an open order")
    p.add_argument("order")
    add_api_flags(p)
    p.set_defaults(func=cancel)

    p = msub.add_parser("balances", help="operators: every ledger account's balance, their sum, the fees")
    add_api_flags(p)
    p.set_defaults(func=balances)

    p = sub.add_parser("invoices", help="invoices: one line per priced meter record")
    p.add_argument("--tenant", default=None)
    p.add_argument("--start", type=float, default=None, help="seconds UTC")
    p.add_argument("--end", type=float, default=None, help="seconds UTC")
    add_api_flags(p)
    p.set_defaults(func=invoices)

    p = sub.add_parser("payouts", help="what providers earned, net of the platform fee")
    p.add_argument("--provider", default=None)
    add_api_flags(p)
    p.set_defaults(func=payouts)


def _show(args: argparse.Namespace, data: Any, rows: list[list[Any]], header: list[str]) -> int:
    if args.json:
        emit(data)
    else:
        print_table(rows, header)
    return 0


def prices(args: argparse.Namespace) -> int:
    d = client(args).get("/v1/market/prices")
    if args.json:
        emit(d)
        return 0
    print(f"prices in {d['currency']} per PF16-hour (list-price version {d['version']}); platform fee {d['fee_rate']}")
    print_table([[x["class"], x["grade"], x["term"], x["price"] or "-"] for x in d["products"] if x["price"] is not None],
          ["CLASS", "GRADE", "TERM", "PRICE"])
    print()
    print_table([[x["site"], x["pool"], x["accelerator"], x["grade"], x["region"], x["ask_price"], x["ask_min_qty"]]
           for x in d["pools"]], ["SITE", "POOL", "ACCELERATOR", "GRADE", "REGION", "ASK", "MIN_QTY"])
    if d["spot"]:
        print()
        print_table([[x["grade"], x["region"], x["price"] or "-", x["volume"]] for x in d["spot"]],
              ["GRADE", "REGION", "LAST_SPOT", "VOLUME"])
    return 0


def _price_args(items: list[str]) -> dict[str, Any]:
    """``class/grade/term=price`` arguments as ``{class: {grade: {term: price}}}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, price = item.partition("=")
        parts = key.split("/")
        if not eq or len(parts) != 3 or not all(parts) or not price:
            raise InvalidInput("not CLASS/GRADE/TERM=PRICE", field="prices", value=item,
                               fix="write e.g. train/mid/on-demand=30.00")
        out.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = price
    return out


def set_price(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.prices:
        body["list_prices"] = _price_args(args.prices)
    if args.grades:
        body["grades"] = [{"grade": r.grade, "min_fp16_tflops": r.min_fp16_tflops, "min_memory_gb": r.min_memory_gb,
                           "description": r.description} for r in load_grade_rules(args.grades).rules]
    if not body:
        raise InvalidInput("nothing to change", field="prices", value=[],
                           fix="give CLASS/GRADE/TERM=PRICE arguments and/or --grades FILE")
    d = client(args).put("/v1/market/prices", body)
    if args.json:
        emit(d)
        return 0
    print(f"list prices version {d['version']}, in force from {d['at']:.0f}")
    print_table([[k, old or "-", new or "-"] for k, (old, new) in d["changed"].items()], ["PRODUCT", "WAS", "NOW"])
    return 0


def _order_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[o["id"], o["side"], o["owner"], o["grade"], o["region"], o["qty"], o["filled"], o["price"], o["status"]]
            for o in items]


ORDER_HEADER = ["ORDER", "SIDE", "OWNER", "GRADE", "REGION", "QTY", "FILLED", "PRICE", "STATUS"]


def bid(args: argparse.Namespace) -> int:
    body = {"grade": args.grade, "region": args.region, "qty": args.qty, "limit": args.limit}
    if args.tenant:
        body["tenant"] = args.tenant
    d = client(args).post("/v1/market/bids", body)
    return _show(args, d, _order_rows([d]), ORDER_HEADER)


def reserve(args: argparse.Namespace) -> int:
    start = time.time() if args.start is None else args.start
    body: dict[str, Any] = {"site": args.site, "pool": args.pool, "qty": args.qty, "start": start,
                            "end": start + args.hours * 3600, "job_class": args.job_class}
    if args.tenant:
        body["tenant"] = args.tenant
    d = client(args).post("/v1/market/reservations", body)
    return _show(args, d, [[d["id"], d["site"], d["pool"], d["grade"], d["qty"], d["price"], d["commitment"]]],
                 ["RESERVATION", "SITE", "POOL", "GRADE", "QTY", "PRICE", "COMMITMENT"])


def resell(args: argparse.Namespace) -> int:
    d = client(args).post(f"/v1/market/reservations/{args.reservation}/resell",
                          {"qty": args.qty, "min_price": args.min_price})
    return _show(args, d, _order_rows([d]), ORDER_HEADER)


def ask(args: argparse.Namespace) -> int:
    d = client(args).post("/v1/market/asks", {"site": args.site, "pool": args.pool, "price": args.price,
                                              "min_qty": args.min_qty})
    return _show(args, d, [[d["site"], d["pool"], d["price"], d["min_qty"]]], ["SITE", "POOL", "PRICE", "MIN_QTY"])


def orders(args: argparse.Namespace) -> int:
    d = client(args).get("/v1/market/orders", status=args.status, tenant=args.tenant)
    if args.json:
        emit(d)
        return 0
    print_table(_order_rows(d["items"]), ORDER_HEADER)
    if d["trades"]:
        print()
        print_table([[t["id"], t["buyer"], t["seller"], t["grade"], t["region"], t["qty"], t["used"], t["price"]]
               for t in d["trades"]], ["TRADE", "BUYER", "SELLER", "GRADE", "REGION", "QTY", "USED", "PRICE"])
    if d["reservations"]:
        print()
        print_table([[r["id"], r["tenant"], f"{r['site']}/{r['pool']}", r["grade"], r["qty"], r["used"], r["offered"],
                r["price"], r["status"]] for r in d["reservations"]],
              ["RESERVATION", "TENANT", "POOL", "GRADE", "QTY", "USED", "OFFERED", "PRICE", "STATUS"])
    return 0


def cancel(args: argparse.Namespace) -> int:
    d = client(args).post(f"/v1/market/orders/{args.order}/cancel")
    return _show(args, d, _order_rows([d]), ORDER_HEADER)


def invoices(args: argparse.Namespace) -> int:
    d = client(args).get("/v1/invoices", tenant=args.tenant, start=args.start, end=args.end)
    if args.json:
        emit(d)
        return 0
    for inv in d["items"]:
        print(f"tenant {inv['tenant']}: {inv['pf16h']} PF16-h, charges {inv['charges']}, credits {inv['credits']}, "
              f"total {inv['total']}")
        print_table([[x["job"], x["site"], x["term"], x["pf16h"], x["unit_price"], x["amount"], x["credit"], x["due"]]
               for x in inv["lines"]], ["JOB", "SITE", "TERM", "PF16H", "PRICE", "AMOUNT", "CREDIT", "DUE"])
    return 0


def payouts(args: argparse.Namespace) -> int:
    d = client(args).get("/v1/payouts", provider=args.provider)
    return _show(args, d, [[x["account"], site, x["gross"] if i == 0 else "", x["fees"] if i == 0 else "", net]
                           for x in d["items"] for i, (site, net) in enumerate([("(all)", x["net"]),
                                                                                *x["by_site"].items()])],
                 ["ACCOUNT", "SITE", "GROSS", "FEES", "NET"])


def balances(args: argparse.Namespace) -> int:
    d = client(args).get("/v1/ledger/balances")
    if args.json:
        emit(d)
        return 0
    print_table([[a, b] for a, b in d["balances"].items()], ["ACCOUNT", "BALANCE"])
    print(f"sum {d['sum']} (always 0); platform fees {d['fees']}")
    return 0
