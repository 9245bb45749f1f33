"""The compliance report's verdicts at the targets' edges: exactly 10% green is not "more than
10%", exactly PUE 1.25 is "at most 1.25", whatever the float division gives; nothing measured is
not judged."""

from __future__ import annotations

from suanli.metering.compliance import Totals, WorkRun, compliance_report, totals


def _verdicts(work: list[WorkRun]) -> dict[str, object]:
    report = compliance_report(4, 1000.0, 50.0, totals(work))
    return {f["name"]: f["ok"] for f in report["figures"]}


def run(energy: float, pue: float, green: float, tier: str = "hub") -> WorkRun:
    return WorkRun(job_id="j", tier=tier, energy_kwh=energy, pue=pue, green_share=green, pf16h=1.0,
                   outside_home=None)


def test_the_edges_of_the_targets() -> None:
    # (0.2 x 0.1 + 0.8 x 0.1) / 1.0 is 0.10000000000000002 in floating point: still exactly 10%, not more
    at_edge = _verdicts([run(0.2, 1.25, 0.1), run(0.8, 1.25, 0.1)])
    assert at_edge["green_share"] is False and at_edge["hub_pue"] is True
    assert at_edge["infrastructures_up"] is True and at_edge["schedulable_pflops_fp16"] is True
    above = _verdicts([run(1.0, 1.2500001, 0.1000001)])
    assert above["green_share"] is True and above["hub_pue"] is False


def test_nothing_measured_is_not_judged() -> None:
    report = compliance_report(3, 7.0, 0.6, Totals())
    figs = {f["name"]: f for f in report["figures"]}
    assert figs["green_share"]["value"] is None and figs["green_share"]["ok"] is None
    assert figs["hub_pue"]["ok"] is None and (report["passed"], report["judged"]) == (0, 2)
    # city work only: the hub PUE has nothing to judge
    city = _verdicts([run(1.0, 1.42, 0.5, tier="city")])
    assert city["hub_pue"] is None and city["green_share"] is True
