"""What an operator deploys next to jmo-doctor (deploy/): the alerting rules pass their
``promtool test rules`` unit tests, and the rules and the Grafana dashboard only use
metric names and cause ids the tool really emits, in PromQL that Prometheus parses."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jmo_doctor.report import prom
from tests import promtool
from tests.test_prom_promtool import REPORTS

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "jmo-doctor.rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "jmo-doctor.rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "jmo-doctor-dashboard.json"
CAUSES = Path(prom.__file__).resolve().parent.parent / "data" / "causes.toml"
METRIC = re.compile(r"\bjmo_doctor_[a-z0-9_]+")


def emitted() -> set[str]:
    """Every family name the tool writes for the reports of the promtool test."""
    return {family.name for make in REPORTS.values() for family in prom.families(make())}


def dashboard_exprs(node: Any) -> Iterator[str]:
    """Every PromQL of the dashboard: panel targets and template variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_exprs(item)


def test_alerting_rules_pass_their_unit_tests() -> None:
    checked = promtool.run_rule_tests(RULE_TESTS.parent, RULE_TESTS.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_rules_and_their_tests_use_only_emitted_metrics_and_real_causes() -> None:
    names = emitted()
    causes = set(tomllib.loads(CAUSES.read_text(encoding="utf-8")))
    for path in (RULES, RULE_TESTS):
        text = path.read_text(encoding="utf-8")
        used = set(METRIC.findall(text))
        assert used, path
        assert used <= names, f"{path.name}: not emitted: {sorted(used - names)}"
        cited = set(re.findall(r'cause="([a-z_]+)"', text))
        assert cited and cited <= causes, f"{path.name}: no such cause: {cited - causes}"


def test_dashboard_is_valid_json_with_emitted_metrics_and_parsing_promql(
    tmp_path: Path,
) -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert board["uid"] == "jmo-doctor" and board["panels"]
    exprs = sorted(set(dashboard_exprs(board)))
    names = emitted()
    for expr in exprs:
        used = set(METRIC.findall(expr))
        assert used, f"no jmo-doctor metric in {expr!r}"
        assert used <= names, f"{expr!r}: not emitted: {sorted(used - names)}"
    panels = {panel["title"] for panel in board["panels"]}
    for wanted in ("latency", "Loss", "Throughput", "Causes over time"):
        assert any(wanted in title for title in panels), wanted
    # Prometheus' own parser: each query as a recording rule (JSON is YAML)
    queries = [re.sub(r"^label_values\((.*), *\w+\)$", r"\1", e) for e in exprs]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(json.dumps(rules), encoding="utf-8")
    checked = promtool.run_check_rules(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_rule_file_parses() -> None:
    checked = promtool.run_check_rules(RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
