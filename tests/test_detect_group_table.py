"""A rule's group table in shards behaves as the one least-recently-used table it replaces."""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import logsentry.detect.detector as detector_module
import logsentry.detect.group_table as group_table
from logsentry.core.event import Event
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import STATE_FILE, Detector
from logsentry.detect.group import GroupState
from logsentry.detect.group_table import GroupTable
from tests.test_detect_state import BRUTE, T0


def _config(tmp_path: Path, **kw: Any) -> DetectionConfig:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "brute.yaml").write_text(BRUTE)
    return DetectionConfig(pack="none", extra_rules=[str(folder)], **kw)


def _ev(at: float, ip: str, user: str = "root") -> Event:
    return Event(message="line", action="ssh_login_failed", received=T0 + at,
                 timestamp=datetime.fromtimestamp(T0 + at, UTC),
                 fields={"source.ip": ip, "user.name": user})


def _ip(i: int) -> str:
    return f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"


def test_a_split_table_hands_out_its_groups_oldest_first_as_one_table_did(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_table, "SPLIT_AT", 100)
    table = GroupTable()
    reference: OrderedDict[str, GroupState] = OrderedDict()
    pick = random.Random(7)
    for seq in range(1, 3001):
        key = _ip(pick.randrange(1500))
        group = table.get(key)
        if group is None:
            group = GroupState((key,), 0.0)
            table[key] = group
            reference[key] = group
        else:
            table.move_to_end(key)
            reference.move_to_end(key)
        group.touched = seq
    assert len(table.shards) == group_table.SHARDS
    assert len(table) == len(reference) and set(table) == set(reference)
    # A caller that stops at a group keeps it; the ones it went past are gone.
    taken = []
    for group in table.oldest_first():
        if len(taken) == 500:
            break
        taken.append(group)
    assert taken == list(reference.values())[:500]
    assert [g.key[0] for g in table.oldest_first()] == list(reference)[500:]
    assert not table and len(table) == 0


def test_a_checkpoint_written_while_the_table_splits_holds_the_state_it_was_taken_of(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The walk is in the table's one shard when detection opens the group that splits it.
    monkeypatch.setattr(group_table, "SPLIT_AT", 1000)
    monkeypatch.setattr(detector_module, "SAVE_SLICE", 2)
    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, persist_interval=0.001), state)
    detector.process([_ev(i % 60, _ip(i)) for i in range(900)])
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    expected = {g.key[0]: json.loads(json.dumps(g.to_json()))
                for g in detector.engines[0].groups.values()}
    detector.write_checkpoint(checkpoint, {})
    at, opened = 61, 900
    while detector.saving:
        at += 1
        detector.process([_ev(at, _ip(i), f"u{at}") for i in range(0, opened + 50, 7)])
        opened += 50
    assert len(detector.engines[0].groups.shards) == group_table.SHARDS
    doc = json.loads((state / STATE_FILE).read_text())
    saved = [group for rule_id, groups in doc["slices"] if rule_id == "t.brute"
             for group in groups]
    assert {group["k"][0]: group for group in saved} == expected
    assert len(saved) == len(expected)


def test_expiry_and_eviction_across_shards_go_by_last_touch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_table, "SPLIT_AT", 16)
    detector = Detector.from_config(_config(tmp_path, memory_cap_mb=1), None)
    for batch in range(20):
        detector.process([_ev(batch, _ip(batch * 1000 + i)) for i in range(1000)])
    groups = detector.engines[0].groups
    assert len(groups.shards) == group_table.SHARDS and detector.evictions > 0
    # Eviction took the least recently touched first, whatever their shard.
    kept = sorted(g.touched for g in groups.values())
    assert kept == list(range(kept[0], kept[0] + len(kept)))
    assert _ip(19_999) in groups and _ip(0) not in groups
    # Expiry stops at the oldest group still of use, as in one table: the groups
    # touched before it go, those after it stay even where their own shard's
    # oldest has lapsed.
    oldest = min(groups.values(), key=lambda g: g.touched)
    oldest.last = detector.watermark + 200  # still of use at +700 (retention 10m)
    dropped = detector.expire(detector.watermark + 700, 20_000)
    assert dropped == 0 and len(groups) == len(kept)
