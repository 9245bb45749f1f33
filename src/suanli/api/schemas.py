"""Request schemas (``XCreate``/``XUpdate``/``XIn``): what the API accepts. Unknown fields are
refused so a misspelt option is an error, not silently ignored; so are ``Infinity``/``NaN`` in any
number field and NUL bytes in free text. A job submission is capped in size field by field
(``JobCreate``). What each route returns is in ``api/responses.py``."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                            description="letters, digits, '.', '_' or '-', at most 64")]


def _no_nul(v: str) -> str:
    if "\x00" in v:
        raise PydanticCustomError("nul_byte", "must not contain a NUL byte (\\u0000)")
    return v


def _at_most_bytes(limit: int) -> Any:
    def check(v: str) -> str:
        if len(v) * 4 > limit and len(v.encode()) > limit:   # UTF-8 is at most 4 bytes a character
            raise PydanticCustomError("too_many_bytes", "at most {limit} bytes (UTF-8)", {"limit": limit})
        return v
    return AfterValidator(check)


def _finite(v: Any) -> Any:
    """Refuse Infinity/NaN anywhere inside free-form JSON (``dict[str, object]`` fields)."""
    if isinstance(v, float) and not math.isfinite(v):
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    if isinstance(v, dict):
        for x in v.values():
            _finite(x)
    elif isinstance(v, list):
        for x in v:
            _finite(x)
    return v


COUNT = 2**31 - 1          # counts from agents: far above any real one, far below the store's 64-bit integers
OFFSET = 2**62             # byte offsets and ids in queries: an offset plus a chunk still fits 64 bits
Text = Annotated[str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Strict(BaseModel):
    """Base of every request model: unknown fields and non-finite numbers are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- federation ----------------------------------------------------------------------------------
class ProviderCreate(Strict):
    name: Name
    display_name: Annotated[Text, Field(max_length=200)] = ""


class RegionCreate(Strict):
    name: Name
    grid_zone: str = ""
    carbon_g_per_kwh: float = Field(500.0, ge=0)


class PoolCreate(Strict):
    name: Name | None = None
    accelerator: str = Field(description="catalog id or alias, e.g. A100, H100")
    per_node: int = Field(8, ge=1, le=1024)
    nodes: int = Field(1, ge=1, le=100000)
    cpus_per_node: int = Field(64, ge=1)
    memory_gb_per_node: float = Field(512.0, gt=0)


class SiteCreate(Strict):
    name: Name
    provider: Name | None = Field(None, description="defaults to the calling provider")
    region: Name
    tier: Literal["hub", "city", "edge"] = "hub"
    engine: Literal["local", "slurm", "ray", "kubernetes"] = "local"
    pue: float = Field(1.4, ge=1.0, le=5.0)
    green_share: float = Field(0.0, ge=0.0, le=1.0)
    carbon_g_per_kwh: float | None = Field(None, ge=0)
    price_per_pf16h: Decimal = Field(Decimal(10), ge=0, max_digits=18, decimal_places=6)
    pools: list[PoolCreate] = []


class SiteUpdate(Strict):
    tier: Literal["hub", "city", "edge"] | None = None
    engine: Literal["local", "slurm", "ray", "kubernetes"] | None = None
    pue: float | None = Field(None, ge=1.0, le=5.0)
    green_share: float | None = Field(None, ge=0.0, le=1.0)
    carbon_g_per_kwh: float | None = Field(None, ge=0)
    price_per_pf16h: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=6)
    state: Literal["active", "draining"] | None = None


# -- tenancy -------------------------------------------------------------------------------------
class TenantCreate(Strict):
    name: Name
    home_region: Name | None = None
    quota_pf16: float | None = Field(None, ge=0, description="PFLOPS (FP16) held at once; none = unlimited")
    budget: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=6)
    budget_pf16h: float | None = Field(None, ge=0, description="PF16-hours over budget_per; none = unlimited")
    budget_per: Literal["day", "month"] | None = Field(None, description="UTC day or month a budget counts over; "
                                                                         "none = all time")
    weight: float = Field(1.0, gt=0)


class TenantUpdate(Strict):
    quota_pf16: float | None = Field(None, ge=0)
    budget: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=6)
    budget_pf16h: float | None = Field(None, ge=0, description="PF16-hours over budget_per; none = unlimited")
    budget_per: Literal["day", "month"] | None = Field(None, description="UTC day or month a budget counts over; "
                                                                         "none = all time")
    weight: float | None = Field(None, gt=0)


class QueueCreate(Strict):
    name: Name
    quota_pf16: float | None = Field(None, ge=0)
    priority_class: int = Field(0, ge=-1000, le=1000)
    budget: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=6)
    budget_pf16h: float | None = Field(None, ge=0, description="PF16-hours over budget_per; none = unlimited")
    budget_per: Literal["day", "month"] | None = Field(None, description="UTC day or month a budget counts over; "
                                                                         "none = all time")


# -- tokens --------------------------------------------------------------------------------------
class TokenCreate(Strict):
    role: Literal["operator", "provider", "tenant", "agent"]
    name: Annotated[Text, Field(max_length=200)] = ""
    tenant: Name | None = None
    provider: Name | None = None
    site: Name | None = None
    expires_in: float | None = Field(None, gt=0, le=10 * 365 * 86400, description="lifetime in seconds")


# -- jobs ----------------------------------------------------------------------------------------
class DataIn(Strict):
    region: Name
    size_gb: float = Field(ge=0)


COMMAND_BYTES = 64 * 1024
Arg = Annotated[Text, Field(description="one argument; no NUL byte")]
EnvName = Annotated[str, Field(max_length=128, pattern=ENV_NAME)]
EnvValue = Annotated[Text, _at_most_bytes(32 * 1024)]
LabelKey = Annotated[Text, Field(max_length=128)]
LabelValue = Annotated[Text, Field(max_length=1024)]


class JobCreate(Strict):
    """A job. Caps: ``command`` 1..256 arguments and 64 KiB in all; ``env`` at most 256 entries, names
    like ``[A-Za-z_][A-Za-z0-9_]*`` of at most 128 characters, values of at most 32 KiB; ``name`` at
    most 200 characters; ``labels`` at most 64 (keys 128, values 1024 characters). No NUL byte in
    any of them."""

    command: list[Arg] = Field(min_length=1, max_length=256,
                               description='argv, e.g. ["python", "train.py"]; at most 256 arguments, 64 KiB in all')
    name: Annotated[Text, Field(max_length=200)] = ""
    tenant: Name | None = Field(None, description="operators only: submit on behalf of this tenant")
    queue: Name = "default"
    job_class: Literal["train", "finetune", "infer", "batch"] = "train"
    gpus: int = Field(1, ge=1, le=100000)
    duration_s: float = Field(3600.0, gt=0, description="expected run time on reference_accelerator")
    time_limit_s: float | None = Field(None, gt=0, description="the agent kills the job after this long")
    reference_accelerator: str = "a100-sxm4-80gb"
    compute_pf16h: float | None = Field(None, gt=0)
    allowed_models: list[str] = []
    allowed_regions: list[Name] = []
    min_memory_gb: float = Field(0.0, ge=0)
    gang: bool = True
    data: list[DataIn] = []
    user_region: Name | None = None
    latency_slo_ms: float | None = Field(None, gt=0)
    deadline: float | None = Field(None, description="seconds UTC")
    max_price: float | None = Field(None, gt=0, description="per PF16-hour")
    preemptible: bool = False
    priority: int | None = Field(None, ge=-1000, le=1000)
    arithmetic_intensity: float | None = Field(None, gt=0)
    checkpoint_interval_s: float | None = Field(None, gt=0)
    env: dict[EnvName, EnvValue] = Field({}, max_length=256)
    labels: dict[LabelKey, LabelValue] = Field({}, max_length=64)

    @field_validator("command")
    @classmethod
    def _command_size(cls, v: list[str]) -> list[str]:
        if sum(map(len, v)) * 4 > COMMAND_BYTES and sum(len(a.encode()) for a in v) > COMMAND_BYTES:
            raise PydanticCustomError("too_many_bytes", "at most {limit} bytes (UTF-8) in all",
                                      {"limit": COMMAND_BYTES})
        return v


# -- agents --------------------------------------------------------------------------------------
class NodeIn(Strict):
    name: str = Field(max_length=256)
    state: str = Field(max_length=64)
    total: int = Field(ge=0, le=COUNT)
    allocated: int = Field(ge=0, le=COUNT)
    healthy: bool


class PoolInventoryIn(Strict):
    """What a site's engine reports for one pool (``agent.backends.PoolInventory``)."""

    total: int = Field(ge=0, le=COUNT)
    free: int = Field(ge=0, le=COUNT)
    healthy: int = Field(ge=0, le=COUNT)
    external: int = Field(0, ge=0, le=COUNT)
    nodes: list[NodeIn] = Field([], max_length=10000)


class HeartbeatCreate(Strict):
    free: dict[str, Annotated[int, Field(ge=0, le=COUNT)]] = {}
    held: list[str] = []
    info: Annotated[dict[str, object], AfterValidator(_finite)] = {}
    inventory: dict[str, PoolInventoryIn] = {}


class LeaseCreate(Strict):
    max: int = Field(16, ge=1, le=256)


class ReportCreate(Strict):
    state: Literal["running", "succeeded", "failed", "killed"]
    exit_code: int | None = Field(None, ge=-(2**31), le=2**31 - 1)
    slots: list[Annotated[int, Field(ge=0, le=COUNT)]] | None = None
    reason: str = ""


class LogCreate(Strict):
    offset: int = Field(ge=0, le=OFFSET)
    data: str = Field(max_length=1_000_000)
