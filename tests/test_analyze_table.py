"""`logsentry analyze`'s table: which lines got which action, then the counts."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest

from logsentry.analyze import run_analyze

RULES = """
rules:
  - id: test.windows-failures
    title: Windows logon failures
    severity: high
    select: {action: login_failed}
    group_by: [source.ip]
    correlate: {type: threshold, count: 2, window: 1m}
    suppress: 10m
    summary: "{count} failed logons from {source.ip}"
"""


def _failed_logon(minute: int, address: str) -> str:
    return orjson.dumps({"@timestamp": f"2026-01-01T10:{minute:02d}:00Z", "EventID": 4625,
                         "TargetUserName": "bob", "IpAddress": address}).decode()


def _analyze_table(capfd: pytest.CaptureFixture[str], files: list[Path], *,
                   alerts: bool = False, rules: list[str] | None = None) -> str:
    status = asyncio.run(run_analyze(files=files, fmt="table", alerts=alerts, model=None,
                                     use_model=False, rules=rules or [],
                                     pack=not rules))
    assert status == 0
    return capfd.readouterr().out


def test_table_shows_line_time_action_outcome_message_and_fields(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "security.log"
    log.write_text("free text without a time\n" + _failed_logon(7, "198.51.100.7") + "\n")
    out = _analyze_table(capfd, [log])
    lines = out.splitlines()
    header = next(line for line in lines if "action" in line)
    assert header.split() == ["line", "time", "action", "outcome", "message", "fields"]
    first = next(line for line in lines if "free text" in line)
    assert first.split()[:4] == ["1", "-", "other", "unknown"]
    second = next(line for line in lines if "login_failed" in line)
    assert second.split()[:5] == ["2", "2026-01-01", "10:07:00", "login_failed", "failure"]
    assert second.split()[5].startswith('{"@timestamp":"2026-01-01T10:07:00Z"')  # the message
    assert "event.code=4625" in second


def test_summary_counts_lines_per_action_and_alerts_per_rule(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    # Two addresses, each failing three times across both files, and three plain lines.
    first.write_text("\n".join([_failed_logon(1, "198.51.100.7"), "plain one",
                                _failed_logon(3, "203.0.113.9"), _failed_logon(5, "198.51.100.7")])
                     + "\n")
    second.write_text("\n".join([_failed_logon(2, "203.0.113.9"), "plain two",
                                 _failed_logon(4, "198.51.100.7"), "plain three",
                                 _failed_logon(6, "203.0.113.9")]) + "\n")
    out = _analyze_table(capfd, [first, second], alerts=True, rules=[str(rules)])

    assert "Lines: 9 lines, 6 with an action, 3 other" in out
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", out, flags=re.MULTILINE))
    assert counts["login_failed"] == "6"
    assert counts["other"] == "3"
    assert "Alerts: 2" in out
    assert re.search(r"^test\.windows-failures\s+2\s*$", out, flags=re.MULTILINE)
    # With several files, each row names its file; rows come in event time.
    rows = [line.split() for line in out.splitlines() if "login_failed" in line
            and line.split()[0] in ("a.log", "b.log")]
    assert [row[3] for row in rows] == [f"10:0{minute}:00" for minute in range(1, 7)]
