"""Response schemas (``XPublic``, ``XList``): what each route returns, for OpenAPI and the
schemathesis checks (the routes render dicts themselves). Request schemas are ``api/schemas.py``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Money = Annotated[str, Field(description="a decimal string, e.g. \"12.50\"")]


class ProviderPublic(BaseModel):
    name: str
    display_name: str
    created_at: float


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


class TenantPublic(BaseModel):
    name: str
    home_region: str | None
    quota_pf16: float | None
    budget: str | None
    weight: float
    budget_pf16h: float | None = None
    budget_per: str | None = None
    queues: list[dict[str, object]]


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
