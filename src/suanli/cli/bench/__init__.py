"""Benchmarks: one module per `suanli bench <name>` subcommand, each with `register(subparsers)`;
a module without it (`sqlite_ledger`, the market bench's ledger store) is a helper."""
