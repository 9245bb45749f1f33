"""Budgets in federation files: money as a number (all time), or ``{money, pf16h, per}`` on a tenant
or a queue; a wrong budget names the file, the field, the value and the fix."""

import pytest

from suanli.config.federation_file import parse_federation
from suanli.domain.errors import ConfigError
from suanli.domain.federation import BudgetPer, budget_period_start
from tests.scheduling.builders import TWO_SITES

TENANTS = """
tenants:
  - name: lab-a
    budget: 10000
  - name: lab-b
    budget: {pf16h: 500, per: month}
    queues:
      - {name: default, quota_pf16: 2, budget: {money: 800, pf16h: 40, per: day}}
      - {name: batch}
"""


def test_budgets_parse_on_tenants_and_queues() -> None:
    a, b = parse_federation(TWO_SITES + TENANTS, "fed.yaml").tenants
    assert (a.budget, a.budget_pf16h, a.budget_per) == (10000.0, None, None)
    assert (b.budget, b.budget_pf16h, b.budget_per) == (None, 500.0, BudgetPer.MONTH)
    default, batch = b.queues
    assert (default.quota_pf16, default.budget, default.budget_pf16h, default.budget_per) == \
        (2.0, 800.0, 40.0, BudgetPer.DAY)
    assert (batch.budget, batch.budget_pf16h, batch.budget_per) == (None, None, None)


@pytest.mark.parametrize(("old", "new", "field", "fix_part"), [
    ("{pf16h: 500, per: month}", "{pf16h: 500, per: year}", "tenants[1].budget.per", "day, month"),
    ("{pf16h: 500, per: month}", "{per: month}", "tenants[1].budget", "money: 1000 and/or pf16h: 500"),
    ("{pf16h: 500, per: month}", "{pf16h: -5}", "tenants[1].budget.pf16h", ">= 0"),
    ("{pf16h: 500, per: month}", "{pf16h: lots}", "tenants[1].budget.pf16h", "number"),
    ("{pf16h: 500, per: month}", "{gpu_hours: 5}", "tenants[1].budget.gpu_hours", "money, per, pf16h"),
    ("budget: 10000", "budget: plenty", "tenants[0].budget", "budget: {pf16h: 500, per: month}"),
    ("budget: {money: 800, pf16h: 40, per: day}", "budget: {money: 800, per: week}",
     "tenants[1].queues[0].budget.per", "day, month"),
])
def test_a_wrong_budget_names_file_field_value_and_fix(old, new, field, fix_part) -> None:
    text = TWO_SITES + TENANTS
    assert old in text
    with pytest.raises(ConfigError) as err:
        parse_federation(text.replace(old, new, 1), "fed.yaml")
    msg = str(err.value)
    assert msg.startswith("fed.yaml: ") and field in msg and "Fix:" in msg and fix_part in msg, msg


def test_budget_periods_are_utc_calendar_days_and_months() -> None:
    t = 1_800_000_000.0                        # 2027-01-15 08:00:00 UTC
    assert budget_period_start(None, t) == 0.0
    assert budget_period_start("day", t) == 1_799_971_200.0          # 2027-01-15 00:00:00 UTC
    assert budget_period_start("month", t) == 1_798_761_600.0        # 2027-01-01 00:00:00 UTC
