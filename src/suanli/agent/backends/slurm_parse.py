"""Parsers for what Slurm's commands print, kept apart from the code that runs them.

Owns: the ``key=value`` records of ``scontrol show node|job -o`` (with ``-d`` per-node
``Nodes=... GRES=...`` segments), GRES strings (``gpu:4``, ``gpu:a100:2(IDX:0-1)``,
``gpu:(null):0(IDX:N/A)``), TRES strings (``cpu=2,gres/gpu:a100=2``), hostlists (``n[1-3,07]``),
``ExitCode=3:0``, job states (which ones are an end, and the reason to report for it) and node
states (which ones are not healthy).

Only text forms are parsed: fixed ``squeue -o`` formats with ``|`` between fields and the ``-o``
one-line ``scontrol`` records, whose shape is the same from Slurm 22.05 to 24.x (``--json`` needs
a build with the JSON plugins and changed its schema across those versions, so it is not used).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A job that Slurm reports in one of these states has ended; every other state (PENDING, RUNNING,
# SUSPENDED, COMPLETING, CONFIGURING, REQUEUED, RESIZING, STOPPED, SIGNALING, ...) has not.
ENDED_STATES = frozenset({
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT",
})

# Node state words (``scontrol`` joins flags with ``+``; ``sinfo`` adds ``*`` for not responding)
# that make a node unschedulable.
UNHEALTHY_NODE_WORDS = frozenset({
    "DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "NOT_RESPONDING", "NO_RESPOND",
    "FUTURE", "UNKNOWN", "MAINT", "REBOOT_ISSUED", "REBOOT_REQUESTED", "INVALID", "INVALID_REG",
})

_KEY = re.compile(r"(?:(?<=\s)|^)([A-Za-z][A-Za-z0-9_:/]*)=")


def split_record(line: str) -> list[tuple[str, str]]:
    """``scontrol show ... -o`` output as ``(key, value)`` pairs in order. A value runs to the next
    `` Key=``, so values with spaces (``OS=Linux 6.1 #1 SMP``, ``Reason=Not responding``) survive.
    Keys may repeat (the ``-d`` per-node segments)."""
    matches = list(_KEY.finditer(line))
    out = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        out.append((m.group(1), line[m.end():end].strip()))
    return out


def record(line: str) -> dict[str, str]:
    """The first value of each key (a later repeat never overrides an earlier one)."""
    out: dict[str, str] = {}
    for k, v in split_record(line):
        out.setdefault(k, v)
    return out


def _expand_one(item: str) -> list[str]:
    m = re.search(r"\[([^\[\]]*)\]", item)
    if m is None:
        return [item]
    head, tail = item[:m.start()], item[m.end():]
    out = []
    for part in m.group(1).split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            width = len(lo)
            for n in range(int(lo), int(hi) + 1):
                out.extend(_expand_one(f"{head}{n:0{width}d}{tail}"))
        elif part:
            out.extend(_expand_one(f"{head}{part}{tail}"))
    return out


def split_top_level(text: str, opening: str, closing: str) -> list[str]:
    """Split at commas outside ``opening``/``closing`` brackets: ``a[1,2],b`` -> ``["a[1,2]", "b"]``."""
    items, depth, cur = [], 0, ""
    for ch in text.strip():
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == opening
        depth -= ch == closing
        cur += ch
    items.append(cur)
    return items


def expand_hostlist(hostlist: str) -> list[str]:
    """``n[1-3,07],gpu-a`` -> ``["n1", "n2", "n3", "n07", "gpu-a"]`` (zero padding is kept)."""
    items = split_top_level(hostlist, "[", "]")
    out: list[str] = []
    for item in items:
        if item and item not in ("(null)", "None"):
            out.extend(_expand_one(item))
    return out


def parse_gres(gres: str, name: str = "gpu") -> dict[str, int]:
    """GPUs per type in a GRES string; ``""`` is the key for untyped GRES.

    ``gpu:4`` -> ``{"": 4}``; ``gpu:a100:2(IDX:0-1),gpu:v100:1(S:0)`` -> ``{"a100": 2, "v100": 1}``;
    ``gpu:(null):0(IDX:N/A)``, ``(null)`` and ``N/A`` -> ``{}`` (or a zero count)."""
    out: dict[str, int] = {}
    for item in split_top_level(gres, "(", ")"):
        item = re.sub(r"\([^()]*\)$", "", item.replace("(null)", "").strip())
        parts = item.split(":")
        if parts[0] != name or len(parts) < 2:
            continue
        count = _count(parts[-1])
        if count is None:           # "gpu:a100" with no count means one
            kind, count = parts[-1], 1
        else:
            kind = ":".join(parts[1:-1])
        kind = kind.lower()
        out[kind] = out.get(kind, 0) + count
    return out


def _count(text: str) -> int | None:
    m = re.fullmatch(r"(\d+)([KMGT]?)", text.strip())
    if m is None:
        return None
    return int(m.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[m.group(2)]


def parse_tres_gpus(tres: str) -> dict[str, int]:
    """GPUs in a TRES string: ``cpu=2,gres/gpu=3,gres/gpu:a100=2`` -> ``{"": 3, "a100": 2}``
    (the untyped total and the per-type counts, as Slurm lists them)."""
    out: dict[str, int] = {}
    for item in tres.split(","):
        key, _, value = item.partition("=")
        if key == "gres/gpu" or key.startswith("gres/gpu:"):
            n = _count(value)
            if n is not None:
                out[key[len("gres/gpu:"):].lower() if ":" in key else ""] = n
    return out


def parse_exit_code(text: str) -> tuple[int, int] | None:
    """``ExitCode=3:0`` -> ``(3, 0)``; ``0:15`` -> ``(0, 15)`` (killed by signal 15)."""
    m = re.fullmatch(r"\s*(\d+):(\d+)\s*", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def base_state(state: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; ``RUNNING`` -> ``RUNNING``."""
    return state.strip().split(" ", 1)[0].split("+", 1)[0].upper()


def end_reason(state: str, killed_by_us: bool = False) -> str:
    """The reason to report for a job that ended in ``state``: ``""`` for an end the job reached
    itself (COMPLETED, FAILED) or that we asked for (CANCELLED after our kill), ``time_limit`` for
    TIMEOUT (the platform's word), else the lowercase Slurm state (``node_fail``, ``cancelled``,
    ``out_of_memory``, ``preempted``, ...)."""
    s = base_state(state)
    if s in ("COMPLETED", "FAILED"):
        return ""
    if s == "TIMEOUT":
        return "time_limit"
    if s == "CANCELLED" and killed_by_us:
        return ""
    return s.lower()


def node_healthy(state: str) -> bool:
    """``IDLE``, ``MIXED``, ``ALLOCATED`` (and e.g. ``IDLE+POWERED_DOWN``) are healthy;
    ``DOWN*``, ``IDLE+DRAIN``, ``MIXED+DRAIN``, ``DOWN+NOT_RESPONDING``, ``FAIL`` are not."""
    words = state.upper().replace("*", "+NOT_RESPONDING").replace("~", "").replace("#", "").split("+")
    return not any(w in UNHEALTHY_NODE_WORDS for w in words if w)


@dataclass(frozen=True)
class NodeRecord:
    name: str
    state: str                 # lowercase, e.g. "mixed", "idle+drain"
    partitions: tuple[str, ...]
    gpus: dict[str, int]       # per GRES type ("" untyped)
    used: dict[str, int]       # allocated GPUs per GRES type

    @property
    def total(self) -> int:
        return sum(self.gpus.values())

    @property
    def allocated(self) -> int:
        return sum(self.used.values())


def parse_node(line: str) -> NodeRecord | None:
    """One line of ``scontrol show node -o -d``. Allocation comes from ``GresUsed=`` (always
    there with ``-d``), else from ``AllocTRES=`` (only when the site tracks ``gres/gpu`` TRES)."""
    rec = record(line)
    name = rec.get("NodeName")
    if not name:
        return None
    gpus = parse_gres(rec.get("Gres", ""))
    if "GresUsed" in rec:
        used = parse_gres(rec["GresUsed"])
    else:
        tres = parse_tres_gpus(rec.get("AllocTRES", ""))
        typed = {k: v for k, v in tres.items() if k}
        used = typed if typed else ({"": tres[""]} if tres.get("") else {})
    if set(used) == {""} and len(gpus) == 1 and "" not in gpus:
        used = {next(iter(gpus)): used[""]}   # an untyped count on a one-type node is that type
    parts = tuple(p for p in rec.get("Partitions", "").split(",") if p and p != "(null)")
    return NodeRecord(name, rec.get("State", "unknown").lower(), parts, gpus, used)


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    name: str
    state: str                 # e.g. "RUNNING", "CANCELLED" (base word, upper case)
    exit_code: tuple[int, int] | None
    comment: str
    gpus_per_node: dict[str, dict[str, int]]   # node -> GPUs per type it holds there (``-d``)


def parse_job(line: str) -> JobRecord | None:
    """One line of ``scontrol show job -o [-d]``. Keys come first-wins, so a ``Comment`` or
    ``Command`` with ``Key=value`` text in it cannot override a real field that precedes it."""
    pairs = split_record(line)
    rec: dict[str, str] = {}
    for k, v in pairs:
        rec.setdefault(k, v)
    if "JobId" not in rec:
        return None
    per_node: dict[str, dict[str, int]] = {}
    nodes: list[str] = []
    for k, v in pairs:
        if k == "Nodes":
            nodes = expand_hostlist(v)
        elif k == "GRES" and nodes:
            for node in nodes:
                for kind, n in parse_gres(v).items():
                    per_node.setdefault(node, {})[kind] = per_node.get(node, {}).get(kind, 0) + n
            nodes = []
    return JobRecord(rec["JobId"], rec.get("JobName", ""), base_state(rec.get("JobState", "")),
                     parse_exit_code(rec.get("ExitCode", "")), rec.get("Comment", ""), per_node)


@dataclass(frozen=True)
class QueueRow:
    job_id: str
    state: str        # base word, upper case
    reason: str
    name: str
    comment: str


SQUEUE_FORMAT = "%i|%T|%r|%j|%k"


def parse_squeue(text: str) -> list[QueueRow]:
    """Lines of ``squeue -h -o '%i|%T|%r|%j|%k'``. The comment is last, so a ``|`` in it is kept;
    a ``|`` in a job name mis-splits that row (suanli's names never have one)."""
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|", 4)
        if len(parts) == 5 and parts[0]:
            rows.append(QueueRow(parts[0], base_state(parts[1]), parts[2], parts[3], parts[4]))
    return rows
