"""Accelerator models and the packaged catalog built from vendor datasheets.

The catalog (``suanli/data/accelerators.csv``, copied from shared datasheet research, dense
figures, with the ``source`` column kept) is read once. Look-ups accept the catalog id
(``a100-sxm4-80gb``) or a short alias (``A100``), case-insensitively.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from suanli.domain.errors import UnknownName


@dataclass(frozen=True, slots=True)
class Accelerator:
    """One chip model; all tensor figures are dense (no 2:4 sparsity)."""

    id: str
    vendor: str
    model: str
    variant: str
    fp16_tflops: float
    fp32_tflops: float
    memory_gb: float
    memory_bw_gbps: float
    tdp_w: float
    source: str = ""

    @property
    def name(self) -> str:
        return f"{self.vendor} {self.model} {self.variant}"


@dataclass(frozen=True)
class Catalog:
    """Accelerators by id, with aliases."""

    by_id: dict[str, Accelerator]
    aliases: dict[str, str]

    def get(self, name: str, *, field: str = "accelerator") -> Accelerator:
        key = name.strip().lower()
        if key in self.by_id:
            return self.by_id[key]
        if key in self.aliases:
            return self.by_id[self.aliases[key]]
        raise UnknownName("accelerator", name, list(self.by_id) + [a.upper() for a in self.aliases], field=field)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name.lower() in self.by_id or name.lower() in self.aliases)

    def ids(self) -> list[str]:
        return list(self.by_id)


def _float(text: str) -> float:
    text = text.strip()
    return float(text) if text else 0.0


def parse_catalog(text: str) -> Catalog:
    """Build a catalog from CSV text in the packaged format. Rows without a dense FP16 figure are
    left out: they cannot be metered in PF16-hours."""
    by_id: dict[str, Accelerator] = {}
    aliases: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        fp16 = _float(row["fp16_tensor_dense_tflops"])
        if fp16 <= 0:
            continue
        acc = Accelerator(
            id=row["id"].lower(),
            vendor=row["vendor"],
            model=row["model"],
            variant=row["variant"],
            fp16_tflops=fp16,
            fp32_tflops=_float(row["fp32_tflops"]),
            memory_gb=_float(row["memory_gb"]),
            memory_bw_gbps=_float(row["memory_bw_gbps"]),
            tdp_w=_float(row["tdp_w"]),
            source=row.get("source", ""),
        )
        by_id[acc.id] = acc
        if row.get("alias"):
            aliases[row["alias"].lower()] = acc.id
    return Catalog(by_id=by_id, aliases=aliases)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The packaged catalog."""
    text = resources.files("suanli.data").joinpath("accelerators.csv").read_text(encoding="utf-8")
    return parse_catalog(text)
