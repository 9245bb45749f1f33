"""The trace-reader contract, the reader registry and row-level error reporting.

A reader turns one file (its packaged copy by default, or any file of the same format given by
``TraceOptions.path``) into a ``Trace``: a tuple of ``Job`` values sorted by (submit time, id),
plus how many rows were skipped and why. Readers register by name; the registry rejects
duplicates and, for an unknown name, lists the valid ones.

Row errors: a malformed row raises ``InvalidInput`` located at ``<file>:<line>`` and naming the
field; with ``skip_bad_rows`` the row is counted under ``skipped["malformed <field>"]`` instead.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Protocol

from suanli.domain.errors import InvalidInput
from suanli.domain.jobs import Job
from suanli.domain.registry import Registry


@dataclass(frozen=True)
class TraceOptions:
    """How to read a trace. ``regions`` are the federation's region names (home regions are drawn
    from them); ``home_regions`` pins a tenant's home region (e.g. from the federation's tenants)."""

    path: Path | None = None
    skip_bad_rows: bool = False
    limit: int | None = None
    seed: int = 0
    regions: tuple[str, ...] = ()
    home_regions: Mapping[str, str] = field(default_factory=dict)
    deadline_share: float = 0.2
    preemptible_share: float = 0.5
    checkpoint_interval_s: float = 1800.0
    data_gb_per_gpu_median: float = 20.0


@dataclass(frozen=True)
class Trace:
    name: str
    source: str
    jobs: tuple[Job, ...]
    skipped: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def span_s(self) -> float:
        """Seconds from the first to the last submission."""
        if not self.jobs:
            return 0.0
        return self.jobs[-1].submit_time - self.jobs[0].submit_time


class TraceReader(Protocol):
    name: str
    description: str

    def read(self, options: TraceOptions) -> Trace: ...


READERS: Registry[Callable[[], TraceReader]] = Registry("trace")


def register_reader(name: str, factory: Callable[[], TraceReader]) -> None:
    READERS.add(name, factory)


def reader_names() -> list[str]:
    return sorted(READERS.names())


def get_reader(name: str) -> TraceReader:
    return READERS.get(name)()


def read_trace(name: str, options: TraceOptions | None = None) -> Trace:
    """Read the named trace (packaged copy unless ``options.path`` is set)."""
    return get_reader(name).read(options or TraceOptions())


# -- file access ---------------------------------------------------------------------------------
def packaged_text(filename: str) -> str:
    data = resources.files("suanli.data").joinpath("traces", filename).read_bytes()
    if filename.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def file_text(path: Path) -> str:
    if not path.exists():
        raise InvalidInput("file not found", field="trace_path", value=str(path),
                           fix="give the path of a trace file in this reader's format")
    try:
        data = path.read_bytes()
        if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InvalidInput(f"cannot be read ({exc})", field="trace_path", value=str(path),
                           fix="give a UTF-8 CSV file, optionally gzip-compressed") from None


def open_source(options: TraceOptions, packaged: str) -> tuple[str, str]:
    """(text, name for messages) of the packaged file or ``options.path``."""
    if options.path is None:
        return packaged_text(packaged), f"<packaged {packaged}>"
    return file_text(options.path), str(options.path)


def check_header(header: list[str], where: str, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(f"missing column(s) {', '.join(missing)}", field="header", value=",".join(header),
                           fix=f"the header must contain: {', '.join(required)}", where=f"{where}:1")


@dataclass(frozen=True)
class Row:
    line: int
    values: Mapping[str, str]


def csv_rows(text: str, where: str, required: tuple[str, ...]) -> Iterator[Row]:
    """Rows of a CSV with a header; raise if a required column is missing."""
    reader = csv.DictReader(io.StringIO(text))
    check_header(list(reader.fieldnames or []), where, required)
    for values in reader:
        yield Row(reader.line_num, values)


class RowError(InvalidInput):
    """A malformed row; ``where`` is ``file:line``."""


def bad(where: str, row: Row, field_name: str, problem: str, fix: str) -> RowError:
    return RowError(problem, field=field_name, value=row.values.get(field_name), fix=fix,
                    where=f"{where}:{row.line}")


def number(where: str, row: Row, name: str, *, minimum: float | None = None, integer: bool = False,
           default: float | None = None) -> float:
    raw = (row.values.get(name) or "").strip()
    if not raw:
        if default is not None:
            return default
        raise bad(where, row, name, "is empty", "give a number")
    try:
        value = float(raw)
    except ValueError:
        raise bad(where, row, name, "is not a number", "give a number, e.g. 3600") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise bad(where, row, name, "is not a finite number", "give a finite number")
    if integer and value != int(value):
        raise bad(where, row, name, "is not a whole number", "give a whole number, e.g. 8")
    if minimum is not None and value < minimum:
        raise bad(where, row, name, f"must be at least {minimum:g}", f"give a value >= {minimum:g}")
    return value


class SkipCounter:
    """Counts skipped rows by reason; re-raises row errors unless skipping is on."""

    def __init__(self, skip_bad_rows: bool) -> None:
        self.skip_bad_rows = skip_bad_rows
        self.counts: dict[str, int] = {}

    def bad_row(self, err: RowError) -> None:
        if not self.skip_bad_rows:
            raise err
        self.count(f"malformed {err.field}")

    def count(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
