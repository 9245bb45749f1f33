"""The market: prices, pool asks, spot bids, reservations (and their resale), orders; invoices,
payouts and the ledger's balances. Money and quantities travel as decimal strings (floats are
refused with a 422 naming the field)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, Field, WithJsonSchema

from suanli.api.deps import CallerDep, PlatformDep
from suanli.api.openapi import V1
from suanli.api.render import JSON, ok
from suanli.api.responses import (
    AskPublic,
    BalancesPublic,
    InvoiceList,
    OrderPublic,
    OrdersPublic,
    PayoutList,
    PricesPublic,
    PriceVersionList,
    PriceVersionPublic,
    ReservationPublic,
)
from suanli.api.schemas import Name, Strict
from suanli.services import billing, prices
from suanli.services import market as svc

router = APIRouter(prefix="/v1", tags=["market"], responses=V1)
# checked by the market's parsers (``market.money``), which refuse floats, NaN and excess decimals by field name
Amount = Annotated[Any, WithJsonSchema({"type": "string", "examples": ["12.50"]}),
                   Field(description="a decimal string, e.g. \"12.50\" (floats are refused)")]


class AskCreate(Strict):
    site: Name
    pool: Name
    price: Amount
    min_qty: Amount = "0"


class BidCreate(Strict):
    grade: Name
    region: Name
    qty: Amount = Field(description="PF16-hours")
    limit: Amount = Field(description="highest price per PF16-hour")
    tenant: Name | None = Field(None, description="operators only: bid on behalf of this tenant")


class ReservationCreate(Strict):
    site: Name
    pool: Name
    qty: Amount = Field(description="PF16-hours")
    start: float = Field(description="seconds UTC")
    end: float = Field(description="seconds UTC")
    job_class: Literal["train", "finetune", "infer", "batch"] = "train"
    tenant: Name | None = None


def _utf8(v: str) -> str:
    v.encode("utf-8")           # a lone surrogate cannot be stored or shown: UnicodeEncodeError is a ValueError
    return v


class GradeRuleIn(Strict):
    grade: Name
    min_fp16_tflops: float = Field(0.0, ge=0, le=1e6, allow_inf_nan=False)
    min_memory_gb: float = Field(0.0, ge=0, le=1e6, allow_inf_nan=False)
    description: Annotated[str, AfterValidator(_utf8), Field(max_length=200)] = ""


ProductClassName = Literal["train", "infer", "general"]
TermName = Literal["on-demand", "reserved", "spot"]


class PricesUpdate(Strict):
    list_prices: dict[ProductClassName, dict[Name, dict[TermName, Amount]]] | None = Field(
        None, description='prices to set, {class: {grade: {term: "price"}}}; the others are kept',
        examples=[{"train": {"mid": {"on-demand": "30.00"}}}])
    grades: list[GradeRuleIn] | None = Field(
        None, max_length=64,
        description="the whole ordered grade-rule list (first match wins; the last must match every chip)")


class ResaleCreate(Strict):
    qty: Amount
    min_price: Amount


@router.get("/market/prices", response_model=PricesPublic)
def get_prices(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.prices(p, caller))


@router.put("/market/prices", response_model=PriceVersionPublic)
def put_prices(body: PricesUpdate, p: PlatformDep, caller: CallerDep) -> JSON:
    """Operators: a new version of the list prices and grade rules, in force from now (audited).
    Work already running keeps the price it started at until its next meter record."""
    return ok(prices.set_prices(p, caller, **body.model_dump()))


@router.get("/market/prices/versions", response_model=PriceVersionList)
def get_price_versions(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(prices.versions(p, caller))


@router.post("/market/asks", response_model=AskPublic)
def post_ask(body: AskCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.set_ask(p, caller, **body.model_dump()))


@router.post("/market/bids", status_code=201, response_model=OrderPublic)
def post_bid(body: BidCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.bid(p, caller, **body.model_dump()), 201)


@router.post("/market/reservations", status_code=201, response_model=ReservationPublic)
def post_reservation(body: ReservationCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.reserve(p, caller, **body.model_dump()), 201)


@router.post("/market/reservations/{reservation_id}/resell", status_code=201, response_model=OrderPublic)
def post_resale(reservation_id: str, body: ResaleCreate, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.resell(p, caller, reservation_id, **body.model_dump()), 201)


@router.get("/market/orders", response_model=OrdersPublic)
def get_orders(p: PlatformDep, caller: CallerDep, status: str | None = None, tenant: str | None = None,
               limit: int = Query(200, ge=1, le=1000)) -> JSON:
    return ok(svc.orders(p, caller, status=status, tenant=tenant, limit=limit))


@router.post("/market/orders/{order_id}/cancel", response_model=OrderPublic)
def cancel_order(order_id: str, p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(svc.cancel_order(p, caller, order_id))


@router.get("/invoices", response_model=InvoiceList)
def get_invoices(p: PlatformDep, caller: CallerDep, tenant: str | None = None,
                 start: float = Query(0.0, allow_inf_nan=False, description="seconds UTC"),
                 end: float | None = Query(None, allow_inf_nan=False, description="seconds UTC")) -> JSON:
    return ok(billing.invoice_of(p, caller, tenant=tenant, start=start, end=end))


@router.get("/payouts", response_model=PayoutList)
def get_payouts(p: PlatformDep, caller: CallerDep, provider: str | None = None) -> JSON:
    return ok(billing.payouts_of(p, caller, provider=provider))


@router.get("/ledger/balances", response_model=BalancesPublic)
def get_balances(p: PlatformDep, caller: CallerDep) -> JSON:
    return ok(billing.balances(p, caller))
