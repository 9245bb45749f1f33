"""One module per command group. Each module defines ``register(subparsers) -> None``, which adds
its subcommands with ``set_defaults(func=handler)``; a handler takes the parsed ``args`` and
returns an exit code. Modules are discovered by name: adding a file adds its commands."""
