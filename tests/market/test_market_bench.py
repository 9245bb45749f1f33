"""``suanli bench market`` on small sizes: one JSON object with the agreed keys, a balanced ledger."""

import argparse
import json

from suanli.cli.bench import market


def test_bench_market_prints_one_json_object(capsys, tmp_path):
    parser = argparse.ArgumentParser()
    market.register(parser.add_subparsers())
    args = parser.parse_args(["market", "--orders", "2000", "--records", "3000", "--repeat", "2",
                              "--batch-size", "500", "--db", str(tmp_path / "l.db"), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"clear_ms", "billing_s", "orders", "records"} <= set(out)
    assert out["orders"] == 2000 and out["records"] == 3000 and out["lines"] == 3000 and out["sum_cents"] == 0
    assert out["clear_ms"] > 0 and out["billing_s"] > 0
