"""Request (``XCreate``/``XUpdate``) and response (``XPublic``) schemas. Unknown fields are refused
so a misspelt option is an error, not silently ignored; so are ``Infinity``/``NaN`` in any number
field and NUL bytes in free text. A job submission is capped in size field by field (``JobCreate``)."""

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


class ProviderPublic(BaseModel):
    name: str
    display_name: str
    created_at: float


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


class PoolPublic(BaseModel):
    id: int
    site: str
    name: str
    accelerator: str
    per_node: int
    nodes: int


class SitePublic(BaseModel):
    name: str
    provider: str
    region: str
    tier: str
    engine: str
    pue: float
    green_share: float
    price_per_pf16h: str
    state: str
    health: str
    available: bool
    last_heartbeat: float | None
    pools: list[PoolPublic]


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


class TenantPublic(BaseModel):
    name: str
    home_region: str | None
    quota_pf16: float | None
    budget: str | None
    weight: float
    budget_pf16h: float | None = None
    budget_per: str | None = None
    queues: list[dict[str, object]]


# -- tokens --------------------------------------------------------------------------------------
class TokenCreate(Strict):
    role: Literal["operator", "provider", "tenant", "agent"]
    name: Annotated[Text, Field(max_length=200)] = ""
    tenant: Name | None = None
    provider: Name | None = None
    site: Name | None = None
    expires_in: float | None = Field(None, gt=0, le=10 * 365 * 86400, description="lifetime in seconds")


class TokenPublic(BaseModel):
    id: str
    role: str
    name: str
    tenant: str | None
    provider: str | None
    site: str | None
    created_at: float
    revoked_at: float | None
    expires_at: float | None = None
    secret: str | None = Field(None, description="shown once, at creation and rotation")


class MePublic(BaseModel):
    token_id: str
    role: Literal["operator", "provider", "tenant", "agent"]
    tenant: str | None = Field(description="the tenant a tenant token acts for")
    provider: str | None = Field(description="the provider a provider token acts for")
    site: str | None = Field(description="the site an agent token acts for")


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


class JobPublic(BaseModel):
    id: str
    tenant: str
    queue: str
    state: str
    job_class: str
    gpus: int
    priority: int
    submit_time: float
    updated_at: float
    attempts: int
    reason: str
    site: str | None
    placement_id: str | None
    exit_code: int | None
    spec: dict[str, object]


class JobList(BaseModel):
    items: list[JobPublic]
    next: str | None


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


# -- responses: what each route returns (OpenAPI; the routes render dicts themselves) ------------
Money = Annotated[str, Field(description="a decimal string, e.g. \"12.50\"")]


class ErrorDetail(BaseModel):
    code: str = Field(description="e.g. invalid_field, unknown_name, not_found, conflict, rate_limited")
    message: str = Field(description="what is wrong and how to fix it")
    field: str = Field(description="the request field at fault, '' when none")


class ErrorPublic(BaseModel):
    """Every error the API returns."""

    error: ErrorDetail


class ProviderList(BaseModel):
    items: list[ProviderPublic]


class RegionPublic(BaseModel):
    name: str
    grid_zone: str
    carbon_g_per_kwh: float


class RegionList(BaseModel):
    items: list[RegionPublic]


class SiteList(BaseModel):
    items: list[SitePublic]


class QueuePublic(BaseModel):
    tenant: str
    name: str
    quota_pf16: float | None
    priority_class: int
    budget: Money | None
    budget_pf16h: float | None = None
    budget_per: str | None = None


class QueueList(BaseModel):
    items: list[QueuePublic]


class TenantList(BaseModel):
    items: list[TenantPublic]


class TokenList(BaseModel):
    items: list[TokenPublic]


class AuditEntry(BaseModel):
    id: int
    at: float
    actor: str
    role: str
    action: str
    subject: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next: int = Field(description="pass as 'after' for the next page")


class PlacementPublic(BaseModel):
    id: str
    job_id: str
    attempt: int
    site: str
    pool_name: str
    accelerator: str
    count: int
    state: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    exit_code: int | None


class PlacementList(BaseModel):
    items: list[PlacementPublic]


class JobDetail(JobPublic):
    placements: list[PlacementPublic]


class JobLogs(BaseModel):
    job_id: str
    text: str
    next: int = Field(description="pass as 'after' for the next chunk")


class PoolVerdict(BaseModel):
    site: str
    pool: str
    accelerator: str
    verdict: str
    reason: str


class JobExplain(BaseModel):
    job_id: str
    state: str
    reason: str
    pools: list[PoolVerdict]
    status: str | None = None
    summary: str | None = None


class UsagePublic(BaseModel):
    by: Literal["job", "tenant", "site"]
    items: list[dict[str, Any]] = Field(description="one per job, tenant or site: pf16h, energy_kwh, carbon_kg, "
                                                    "cost (decimal string), runtime_s, placements, running")
    total: dict[str, Any]
    at: float


class FederationPublic(BaseModel):
    total: dict[str, Any]
    by_site: dict[str, Any]
    by_region: dict[str, Any]
    by_tier: dict[str, Any]


class ComplianceFigure(BaseModel):
    name: str
    value: float | None
    unit: str
    target: str | None
    ok: bool | None


class CompliancePublic(BaseModel):
    since: float
    until: float
    at: float
    figures: list[ComplianceFigure]
    pf16h_by_tier: dict[str, float]
    energy_kwh: float
    passed: int
    judged: int


class HistoryPoint(BaseModel):
    at: float
    infrastructures_up: int
    pflops_fp16: float
    pflops_fp32: float
    utilization_by_tier: dict[str, float]
    queue: dict[str, int]
    sites: dict[str, dict[str, float | None]]
    green_share: float | None
    hub_pue: float | None
    pf16h_per_hour: float | None


class HistoryPublic(BaseModel):
    since: float
    until: float
    targets: dict[str, float]
    points: list[HistoryPoint]


class HealthPublic(BaseModel):
    status: str
    database: str
    scheduler: dict[str, Any]


class HeartbeatPublic(BaseModel):
    site: str
    lease_s: float
    kill: list[str] = Field(description="placements the agent must kill")
    at: float


class AssignmentPublic(BaseModel):
    placement_id: str
    job_id: str
    tenant: str
    pool: str
    accelerator: str
    count: int
    command: list[str]
    env: dict[str, str]
    time_limit_s: float | None
    attempt: int
    state: str
    started_at: float | None
    slots: list[int]


class SessionPublic(BaseModel):
    site: str
    session: str = Field(description="send it as X-Agent-Session on every agent call")


class AssignmentList(BaseModel):
    items: list[AssignmentPublic]


class ReportPublic(BaseModel):
    placement_id: str
    state: str
    kill: bool


class LogStored(BaseModel):
    placement_id: str
    stored: bool = Field(description="false when a chunk at that offset was already stored (a retry)")


class PricesPublic(BaseModel):
    currency: str
    fee_rate: Money
    version: int = Field(description="the list-price version in force")
    unit: str
    grades: list[dict[str, Any]]
    products: list[dict[str, Any]]


class PriceVersionPublic(BaseModel):
    version: int
    at: float | None = Field(description="seconds UTC from which it is in force (none: the prices file)")
    fee_rate: Money
    grades: list[dict[str, Any]]
    list_prices: dict[str, Any]
    changed: dict[str, Any] | None = Field(None, description="product -> [old, new] price")
    actor: str | None = None


class PriceVersionList(BaseModel):
    items: list[PriceVersionPublic]


class AskPublic(BaseModel):
    site: str
    pool: str
    provider: str
    price: Money
    min_qty: Money
    updated_at: float


class OrderPublic(BaseModel):
    id: str
    side: Literal["bid", "ask"]
    owner: str
    tenant: str | None
    provider: str | None
    qty: Money
    price: Money
    time: float
    status: str


class ReservationPublic(BaseModel):
    id: str
    tenant: str
    provider: str
    site: str
    pool: str
    qty: Money
    start: float
    end: float
    price: Money


class OrdersPublic(BaseModel):
    items: list[dict[str, Any]]
    trades: list[dict[str, Any]]
    reservations: list[dict[str, Any]]


class InvoicePublic(BaseModel):
    tenant: str
    start: float
    end: float
    pf16h: Money
    charges: Money
    credits: Money
    total: Money
    lines: list[dict[str, Any]]


class InvoiceList(BaseModel):
    items: list[InvoicePublic]


class PayoutPublic(BaseModel):
    account: str
    gross: Money
    fees: Money
    net: Money
    by_site: dict[str, Money]


class PayoutList(BaseModel):
    items: list[PayoutPublic]


class BalancesPublic(BaseModel):
    balances: dict[str, Money]
    sum: Money
    fees: Money
