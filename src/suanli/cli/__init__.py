"""The ``suanli`` command line. Each command lives in ``suanli.cli.commands.<name>``."""
