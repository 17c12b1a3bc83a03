"""bucketsync.deploy.cost: the estimate `bucketsync deploy` prints, line by line."""

from __future__ import annotations

import re
from pathlib import Path

import bench.cost
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bucketsync.deploy import cost
from bucketsync.deploy.cost import PRICES, PRICES_TAKEN, cheaper, compare, estimate
from bucketsync.deploy.parameters import defaults
from bucketsync.deploy.template import render

RESULTS = Path(__file__).parents[2] / "bench" / "RESULTS.md"
CATALOG = defaults("catalog")
MIRROR = defaults("mirror")

VALUES = st.fixed_dictionaries(
    {
        "BatchSize": st.integers(1, 10_000).map(str),
        "FunctionMemory": st.integers(128, 10_240).map(str),
        "LogRetentionDays": st.sampled_from(["1", "7", "30", "365", "3653"]),
        "WriteMode": st.sampled_from(["single", "transact"]),
        "Lean": st.sampled_from(["true", "false"]),
    }
)
SHAPE = st.sampled_from(["catalog", "mirror"])
OBJECTS = st.one_of(st.none(), st.integers(0, 10**10))
ITEM_BYTES = st.integers(0, 400 * 1024)


def test_the_default_catalog_stack_line_by_line() -> None:
    e = estimate(CATALOG, "catalog", objects=1_000_000)
    assert list(e.per_million) == [
        "Lambda requests",
        "Lambda compute",
        "SQS requests",
        "DynamoDB writes",
        "S3 HEAD",
        "CloudWatch Logs ingestion",
        "CloudWatch Logs storage",
    ]
    assert e.per_million["Lambda requests"] == pytest.approx(0.02)  # 100,000 invocations
    assert e.per_million["SQS requests"] == pytest.approx(0.48)  # 1.2M requests
    assert e.per_million["DynamoDB writes"] == pytest.approx(0.625)  # single: 1 unit a change
    assert e.per_million["S3 HEAD"] == pytest.approx(0.40)
    # 2.93 ms x 1M changes x 0.25 GB at arm64's price
    assert e.per_million["Lambda compute"] == pytest.approx(
        0.0122 / 0.0000166667 * 0.0000133334, rel=1e-4
    )
    assert e.per_million["CloudWatch Logs ingestion"] == pytest.approx(0.05)  # 0.1 GB
    assert e.at_rest_month["DynamoDB storage"] == pytest.approx(0.55 * 0.25)  # 550 bytes an item
    assert e.at_rest_month["DynamoDB PITR"] == pytest.approx(0.55 * 0.20)
    assert e.at_rest_month["SQS idle polling"] == pytest.approx(5 * 730 * 3600 / 20 * 0.4e-6)


def test_one_alarm_line_item_per_alarm_the_template_makes() -> None:
    for shape in ("catalog", "mirror"):
        made = [
            r for r in render(shape)["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
        ]
        assert made
        billed = estimate(defaults(shape), shape).at_rest_month["CloudWatch alarms"]
        assert billed == pytest.approx(len(made) * 0.10)


def test_lines_put_each_assumption_beside_its_figure() -> None:
    e = estimate(CATALOG, "catalog", objects=1_000_000)
    text = e.lines()
    assert text[0] == "Estimated AWS cost per million object changes (catalog):"
    writes = next(line for line in text if line.strip().startswith("DynamoDB writes"))
    assert "$0.6250" in writes
    assert "(1 write unit per change: WriteMode single)" in writes
    for name in [*e.per_million, *e.at_rest_month]:
        assert sum(line.strip().startswith(name) and e.why[name] in line for line in text) == 1
    totals = [line for line in text if line.strip().startswith("total")]
    assert [t.split()[-1] for t in totals] == [
        f"${e.total_per_million:.4f}",
        f"${e.total_at_rest:.4f}",
    ]
    assert any("AlarmTopicArn is empty" in line for line in text)
    assert PRICES_TAKEN in text[-1]


def test_transact_bills_twice_singles_write_units() -> None:
    for item_bytes in (1, 450, 1024, 1025, 5000):
        single = estimate(CATALOG, "catalog", item_bytes=item_bytes).per_million
        transact = estimate({**CATALOG, "WriteMode": "transact"}, "catalog", item_bytes=item_bytes)
        assert transact.per_million["DynamoDB writes"] == 2 * single["DynamoDB writes"]
    big = estimate(CATALOG, "catalog", item_bytes=1025).per_million["DynamoDB writes"]
    assert big == pytest.approx(2 * PRICES.dynamodb_per_million_wru)  # billed by the KB


@given(VALUES, ITEM_BYTES)
def test_transact_doubles_the_dynamodb_line_whatever_the_rest(
    values: dict[str, str], item_bytes: int
) -> None:
    lines = {
        mode: estimate({**values, "WriteMode": mode}, "catalog", item_bytes=item_bytes)
        for mode in ("single", "transact")
    }
    assert (
        lines["transact"].per_million["DynamoDB writes"]
        == 2 * lines["single"].per_million["DynamoDB writes"]
    )


def test_lean_removes_the_head_line_and_its_time() -> None:
    lean = estimate({**CATALOG, "Lean": "true"}, "catalog")
    full = estimate(CATALOG, "catalog")
    assert "S3 HEAD" not in lean.per_million
    assert full.per_million["S3 HEAD"] > 0
    assert lean.per_million["Lambda compute"] < full.per_million["Lambda compute"]
    assert lean.total_per_million < full.total_per_million


@given(VALUES, st.integers(1, 10_000), st.integers(1, 10_000))
def test_a_larger_batch_never_costs_more_requests(values: dict[str, str], a: int, b: int) -> None:
    small, large = min(a, b), max(a, b)
    fewer = estimate({**values, "BatchSize": str(large)}, "catalog").per_million
    more = estimate({**values, "BatchSize": str(small)}, "catalog").per_million
    assert fewer["Lambda requests"] <= more["Lambda requests"]
    assert fewer["SQS requests"] <= more["SQS requests"]


def test_sqs_requests_stop_falling_at_ten_messages_a_call() -> None:
    ten = estimate({**CATALOG, "BatchSize": "10"}, "catalog").per_million
    hundred = estimate({**CATALOG, "BatchSize": "100", "BatchingWindowSeconds": "1"}, "catalog")
    assert hundred.per_million["Lambda requests"] == pytest.approx(ten["Lambda requests"] / 10)
    assert hundred.per_million["SQS requests"] == ten["SQS requests"]


def test_memory_and_retention_scale_their_lines() -> None:
    base = estimate(CATALOG, "catalog").per_million
    double = estimate({**CATALOG, "FunctionMemory": "512"}, "catalog").per_million
    assert double["Lambda compute"] == pytest.approx(2 * base["Lambda compute"])
    kept = estimate({**CATALOG, "LogRetentionDays": "90"}, "catalog").per_million
    assert kept["CloudWatch Logs storage"] == pytest.approx(3 * base["CloudWatch Logs storage"])
    assert kept["CloudWatch Logs ingestion"] == base["CloudWatch Logs ingestion"]


def test_the_mirror_writes_no_table_and_heads_nothing() -> None:
    e = estimate(MIRROR, "mirror", objects=1_000_000)
    assert not any(name.startswith("DynamoDB") for name in [*e.per_million, *e.at_rest_month])
    assert "S3 HEAD" not in e.per_million
    assert e.per_million["Outbound HTTPS"] == pytest.approx(2_000 * 1e6 / 1e9 * 0.09)
    assert "assumed" in e.why["Lambda compute"]
    assert compare(MIRROR, "mirror") == {}
    assert cheaper(MIRROR, "mirror") == ""


def test_storage_at_rest_needs_the_object_count() -> None:
    unknown = estimate(CATALOG, "catalog")
    assert "DynamoDB storage" not in unknown.at_rest_month
    assert "DynamoDB PITR" not in unknown.at_rest_month
    note = next(n for n in unknown.notes if "per million objects" in n)
    million = estimate(CATALOG, "catalog", objects=1_000_000).at_rest_month
    assert f"${million['DynamoDB storage']:.4f}" in note
    assert f"${million['DynamoDB PITR']:.4f}" in note
    billion = estimate(CATALOG, "catalog", objects=1_000_000_000).at_rest_month
    assert billion["DynamoDB storage"] == pytest.approx(1000 * million["DynamoDB storage"])
    empty = estimate(CATALOG, "catalog", objects=0).at_rest_month
    assert empty["DynamoDB storage"] == 0
    assert empty["CloudWatch alarms"] == million["CloudWatch alarms"]  # the rest does not move


@given(VALUES, SHAPE, OBJECTS, ITEM_BYTES)
def test_totals_are_the_sum_of_lines_and_never_negative(
    values: dict[str, str], shape: str, objects: int | None, item_bytes: int
) -> None:
    e = estimate(values, shape, objects=objects, item_bytes=item_bytes)
    assert all(usd >= 0 for usd in [*e.per_million.values(), *e.at_rest_month.values()])
    assert e.total_per_million == pytest.approx(sum(e.per_million.values()))
    assert e.total_at_rest == pytest.approx(sum(e.at_rest_month.values()))
    assert e.total_per_million > 0
    assert e.total_at_rest > 0  # alarms and the idle poll are billed whatever the parameters
    assert set(e.why) == {*e.per_million, *e.at_rest_month}
    assert len(e.lines()) == len(e.why) + 4 + len(e.notes) + 1


def test_single_is_the_cheaper_write_mode_and_deploys_by_default() -> None:
    totals = compare(CATALOG)
    assert list(totals) == ["single", "transact"]
    assert totals["transact"] - totals["single"] == pytest.approx(0.625, abs=0.01)
    assert CATALOG["WriteMode"] == next(iter(totals))
    assert cheaper(CATALOG).startswith("single is the cheaper of the two write modes by $0.62")


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        estimate(CATALOG, "warehouse")
    with pytest.raises(ValueError, match="WriteMode"):
        estimate({**CATALOG, "WriteMode": "batch"}, "catalog")
    with pytest.raises(ValueError, match="BatchSize"):
        estimate({**CATALOG, "BatchSize": "0"}, "catalog")
    with pytest.raises(ValueError, match="negative"):
        estimate(CATALOG, "catalog", objects=-1)


def test_milliseconds_per_change_are_results_3_4s_compute_line() -> None:
    section = RESULTS.read_text().split("### 3.4")[1].split("\n## ")[0]
    row = next(line for line in section.splitlines() if line.startswith("| Lambda compute, x86"))
    _seed, *usd = (float(cell) for cell in re.findall(r"\d+\.\d+", row))
    columns = [("transact", False), ("single", False), ("transact", True), ("single", True)]
    for key, figure in zip(columns, usd, strict=True):
        assert cost.MS_PER_CHANGE[key] == pytest.approx(figure / 1e6 / 0.0000166667 / 0.25 * 1000)


def test_there_is_one_price_table() -> None:
    assert bench.cost.Prices is cost.Prices
    assert bench.cost.PRICES is cost.PRICES
    assert bench.cost.PRICES_TAKEN == cost.PRICES_TAKEN
