"""Benchmarks: one module per `suanli bench <name>` subcommand, each with `register(subparsers)`."""
