"""Bounded, durable detection state: expiry, memory cap, persistence, reload."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logsentry.core.event import Event
from logsentry.core.metrics import DETECTION_EVICTIONS
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import STATE_FILE, Checkpoint, Detector

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC).timestamp()

BRUTE = """
id: t.brute
title: Brute force
severity: high
select: {action: ssh_login_failed}
group_by: [source.ip]
correlate: {type: threshold, count: 5, window: 2m}
suppress: 10m
summary: "{count} failures from {source.ip}"
"""

NEW_USER = """
id: t.new-root
title: New root user
severity: high
select: {action: sudo_command}
group_by: [host.name]
correlate: {type: first_seen, field: user.name, learn: 1h}
suppress: 0
summary: "{user.name} new on {host.name}"
"""


def _config(tmp_path: Path, *texts: str, **kw: Any) -> DetectionConfig:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for index, text in enumerate(texts):
        (folder / f"r{index}.yaml").write_text(text)
    return DetectionConfig(pack="none", extra_rules=[str(folder)], **kw)


def _ev(action: str, at: float, **fields: Any) -> Event:
    return Event(message="line", action=action, received=T0 + at,
                 timestamp=datetime.fromtimestamp(T0 + at, UTC),
                 fields={k.replace("__", "."): v for k, v in fields.items()})


def test_state_survives_a_restart(tmp_path: Path) -> None:
    config = _config(tmp_path, BRUTE, NEW_USER)
    state = tmp_path / "state"
    first = Detector.from_config(config, state)
    assert first.process([_ev("ssh_login_failed", i, source__ip="1.2.3.4") for i in range(3)]) == []
    first.process([_ev("sudo_command", 0, host__name="h", user__name="alice")])
    first.save_state()
    assert (state / STATE_FILE).exists()

    second = Detector.from_config(config, state)
    assert second.group_count == 2
    [alert] = second.process([_ev("ssh_login_failed", 3 + i, source__ip="1.2.3.4")
                              for i in range(2)])
    assert alert.count == 5
    # Samples from before the restart come back in their ECS form.
    assert len(alert.events) == 5 and alert.events[0]["event"]["action"] == "ssh_login_failed"
    # The learned user is still known after the restart; a new one alerts.
    later = [_ev("sudo_command", 7200, host__name="h", user__name="alice"),
             _ev("sudo_command", 7201, host__name="h", user__name="mallory")]
    [new_user] = second.process(later)
    assert new_user.group["user.name"] == "mallory"


def test_a_corrupt_state_file_is_ignored(tmp_path: Path) -> None:
    config = _config(tmp_path, BRUTE)
    state = tmp_path / "state"
    state.mkdir()
    for garbage in (b"{not json", b'{"version": 1, "rules": {"t.brute": {"groups": [1]}}}',
                    b"[]", b'{"version": 99}', b"\x00\xff",
                    b'{"version": 3, "fingerprints": {}, "slices": [["t.brute"]]}',
                    b'{"version": 3, "fingerprints": {}, "slices": [["t.brute", [1]]]}'):
        (state / STATE_FILE).write_bytes(garbage)
        detector = Detector.from_config(config, state)
        assert detector.group_count == 0
        assert detector.process([_ev("ssh_login_failed", i, source__ip="1.2.3.4")
                                 for i in range(5)])


def test_a_state_file_of_version_2_is_still_restored(tmp_path: Path) -> None:
    config = _config(tmp_path, BRUTE)
    state = tmp_path / "state"
    first = Detector.from_config(config, state)
    _many_groups(first, 3)
    [engine] = first.engines
    state.mkdir()
    (state / STATE_FILE).write_text(json.dumps({
        "version": 2, "saved_at": 1.0, "watermark": first.watermark,
        "positions": {"app": {"files": {}}},
        "rules": {"t.brute": {"fingerprint": engine.fingerprint,
                              "groups": [g.to_json() for g in engine.groups.values()]}}}))
    restored = Detector.from_config(config, state)
    assert restored.group_count == 3 and restored.memory_bytes == first.memory_bytes
    assert restored.restored is not None
    assert restored.restored.positions == {"app": {"files": {}}}


def test_state_of_a_changed_rule_is_dropped(tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, BRUTE), state)
    detector.process([_ev("ssh_login_failed", i, source__ip="1.2.3.4") for i in range(3)])
    detector.save_state()
    changed = _config(tmp_path, BRUTE.replace("count: 5", "count: 6"))
    assert Detector.from_config(changed, state).group_count == 0


def test_state_file_is_written_atomically_as_json(tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, BRUTE), state)
    detector.process([_ev("ssh_login_failed", 0, source__ip="1.2.3.4")])
    detector.save_state()
    doc = json.loads((state / STATE_FILE).read_text())
    assert doc["version"] == 3 and doc["positions"] == {}
    assert doc["slices"] == [["t.brute", [json.loads(json.dumps(
        detector.engines[0].groups["1.2.3.4"].to_json()))]]]
    assert doc["fingerprints"] == {"t.brute": detector.engines[0].fingerprint}
    assert not (state / (STATE_FILE + ".tmp")).exists()


def test_a_checkpoint_is_due_after_the_interval_and_written_with_its_positions(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, BRUTE, persist_interval=60), state)
    detector.process([_ev("ssh_login_failed", 0, source__ip="1.2.3.4")])
    assert detector.begin_checkpoint() is None  # not due yet
    detector._last_save -= 61  # as if the interval had passed
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None and detector.begin_checkpoint() is None  # one at a time
    detector.write_checkpoint(checkpoint, {"app": {"files": {}}})
    assert detector.wait_for_save(5) and not detector.saving
    doc = json.loads((state / STATE_FILE).read_text())
    assert doc["positions"] == {"app": {"files": {}}}
    restored = Detector.from_config(_config(tmp_path, BRUTE), state)
    assert restored.restored is not None and restored.restored.groups == 1
    assert restored.restored.positions == {"app": {"files": {}}}
    detector._last_save -= 61
    assert detector.begin_checkpoint() is None  # nothing processed since


def test_memory_cap_evicts_least_recent_groups_and_counts_them(tmp_path: Path) -> None:
    config = _config(tmp_path, BRUTE, memory_cap_mb=1)
    detector = Detector.from_config(config, None)
    before = DETECTION_EVICTIONS._value.get()
    for batch in range(20):
        detector.process([
            _ev("ssh_login_failed", batch, source__ip=f"10.{batch}.{i // 256}.{i % 256}")
            for i in range(1000)])
    cap = 1024 * 1024
    assert detector.memory_bytes <= cap
    assert detector.evictions > 0
    assert DETECTION_EVICTIONS._value.get() - before == detector.evictions
    # The most recent sources are kept, the oldest went first.
    keys = next(iter(detector.engines)).groups
    assert "10.19.3.231" in keys
    assert "10.0.0.0" not in keys
    # A memory estimate that is honest: the groups kept fill the budget.
    assert detector.group_count * 400 < cap


def test_tick_expires_groups_whose_windows_lapsed(tmp_path: Path) -> None:
    detector = Detector.from_config(_config(tmp_path, BRUTE), None)
    detector.process([_ev("ssh_login_failed", 0, source__ip=f"10.0.0.{i}") for i in range(50)])
    assert detector.group_count == 50
    wall = detector._wall_at_watermark
    detector.tick(wall + 60)
    assert detector.group_count == 50  # still inside window and suppression time
    detector.tick(wall + 700)
    assert detector.group_count == 0
    assert detector.memory_bytes == 0


def test_an_expiry_out_of_time_leaves_the_rest_to_the_next(tmp_path: Path) -> None:
    # Expiring 20,000 groups at once took up to 150 ms inside a batch at 961,986 groups:
    # each expiry stops after its time (EXPIRE_SECONDS), looking at the clock every
    # 64 groups, and the next goes on.
    detector = Detector.from_config(_config(tmp_path, BRUTE), None)
    detector.process([_ev("ssh_login_failed", 0, source__ip=f"10.0.{i // 256}.{i % 256}")
                      for i in range(200)])
    later = detector.watermark + 700
    assert detector.expire(later, 20_000, 0.0) == 64
    assert detector.group_count == 136
    assert detector.expire(later, 20_000) == 136
    assert detector.group_count == 0 and detector.memory_bytes == 0


def test_reload_keeps_state_of_unchanged_rules_only(tmp_path: Path) -> None:
    config = _config(tmp_path, BRUTE, NEW_USER)
    detector = Detector.from_config(config, None)
    detector.process([_ev("ssh_login_failed", i, source__ip="1.2.3.4") for i in range(4)]
                     + [_ev("sudo_command", 0, host__name="h", user__name="alice")])
    (tmp_path / "rules" / "r1.yaml").write_text(NEW_USER.replace("learn: 1h", "learn: 2h"))
    reloaded = detector.reload(config)
    assert {e.rule.id: len(e.groups) for e in reloaded.engines} == {"t.brute": 1, "t.new-root": 0}
    [alert] = reloaded.process([_ev("ssh_login_failed", 5, source__ip="1.2.3.4")])
    assert alert.count == 5
    assert reloaded.memory_bytes == sum(g.size for e in reloaded.engines
                                        for g in e.groups.values())


def test_reload_with_a_bad_rule_raises_and_keeps_the_old_detector(tmp_path: Path) -> None:
    import pytest

    from logsentry.core.errors import ConfigError

    config = _config(tmp_path, BRUTE)
    detector = Detector.from_config(config, None)
    (tmp_path / "rules" / "r0.yaml").write_text(BRUTE.replace("severity: high", "severity: 9"))
    with pytest.raises(ConfigError, match=r"r0\.yaml: rule t\.brute: severity"):
        detector.reload(config)
    assert [r.id for r in detector.rules] == ["t.brute"]


def test_default_config_loads_the_shipped_pack() -> None:
    detector = Detector.from_config(DetectionConfig(), None)
    ids = {rule.id for rule in detector.rules}
    assert {"auth.ssh-brute-force", "auth.password-spraying", "web.sqli",
            "net.port-scan", "sys.new-template"} <= ids


SPRAY_BURST = """
id: t.burst
title: Burst
severity: high
select: {action: ssh_login_failed}
group_by: [source.ip]
correlate: {type: threshold, count: 4, window: 2m}
suppress: 10m
summary: "{count} failures from {source.ip} for {distinct.user.name} users: {values.user.name}"
"""

GUESSED = """
id: t.guessed
title: Guessed
severity: high
select: {category: authentication}
group_by: [source.ip]
correlate:
  type: sequence
  window: 10m
  steps:
    - {select: {outcome: failure}, count: 2}
    - {select: {action: ssh_login_success}}
suppress: 1h
summary: "{source.ip} in after {count} events"
"""


def test_window_times_step_counts_and_summary_values_survive_a_restart(tmp_path: Path) -> None:
    config = _config(tmp_path, SPRAY_BURST, GUESSED)
    state = tmp_path / "state"
    first = Detector.from_config(config, state)
    assert first.process([_ev("ssh_login_failed", i, source__ip="1.2.3.4", user__name=user)
                          for i, user in enumerate(["bob", "alice", "bob"])]) == []
    first.save_state()
    saved = _saved_by_rule(state)
    [burst] = saved["t.burst"]
    assert burst["t"] == [T0, T0 + 1, T0 + 2] and burst["d"] == {"user.name": ["alice", "bob"]}
    [guess] = saved["t.guessed"]
    assert guess["st"] == 1 and guess["sc"] == [3, 0]

    second = Detector.from_config(config, state)
    assert second.memory_bytes == first.memory_bytes
    alerts = second.process([_ev("ssh_login_failed", 3, source__ip="1.2.3.4", user__name="carol"),
                             _ev("ssh_login_success", 4, source__ip="1.2.3.4")])
    by_rule = {alert.rule_id: alert for alert in alerts}
    assert by_rule["t.burst"].count == 4
    assert by_rule["t.burst"].message == (
        "4 failures from 1.2.3.4 for 3 users: alice, bob, carol")
    assert by_rule["t.guessed"].count == 5


def _many_groups(detector: Detector, count: int) -> None:
    detector.process([_ev("ssh_login_failed", i % 60, source__ip=f"10.0.{i // 256}.{i % 256}",
                          user__name="root") for i in range(count)])


def _checkpoint_begun(
        tmp_path: Path, state: Path, groups: int = 3000,
) -> tuple[Detector, Checkpoint, dict[str, dict[str, Any]]]:
    """A detector of `groups` groups, a checkpoint of it begun, and the state it must hold."""
    detector = Detector.from_config(_config(tmp_path, BRUTE, persist_interval=0.001), state)
    _many_groups(detector, groups)
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    expected: dict[str, dict[str, Any]] = json.loads(json.dumps(_state_now(detector)))
    return detector, checkpoint, expected


def _saved_by_rule(state: Path) -> dict[str, list[dict[str, Any]]]:
    """Each rule's saved groups, from the slices of the state file."""
    doc = json.loads((state / STATE_FILE).read_text())
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for rule_id, groups in doc["slices"]:
        by_rule.setdefault(rule_id, []).extend(groups)
    return by_rule


def _saved_groups(state: Path) -> dict[str, dict[str, Any]]:
    saved = _saved_by_rule(state).get("t.brute", [])
    groups = {group["k"][0]: group for group in saved}
    assert len(groups) == len(saved)  # each group once
    return groups


def _state_now(detector: Detector) -> dict[str, dict[str, Any]]:
    return {group.key[0] or "": group.to_json()
            for group in detector.engines[0].groups.values()}


def test_a_checkpoint_is_the_state_between_two_batches_whatever_changes_after_it(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = _config(tmp_path, BRUTE, persist_interval=0.001)
    detector = Detector.from_config(config, state)
    _many_groups(detector, 1000)
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    expected = json.loads(json.dumps(_state_now(detector)))
    expected_bytes = detector.memory_bytes
    # Before it is written: a group it holds changes (and alerts), a new one
    # opens, and every group expires.
    detector.process([_ev("ssh_login_failed", 61, source__ip="10.0.3.231", user__name="x")
                      for _ in range(5)]
                     + [_ev("ssh_login_failed", 61, source__ip="192.0.2.1")])
    detector.tick(detector._wall_at_watermark + 7200)
    assert detector.group_count == 0
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected
    restored = Detector.from_config(config, state)
    assert restored.group_count == 1000
    assert restored.memory_bytes == expected_bytes


def test_a_checkpoint_written_while_detection_goes_on_is_exact(
        tmp_path: Path, monkeypatch: Any) -> None:
    import logsentry.detect.detector as detector_module

    # Small slices: the writer and the detection thread take turns many times.
    monkeypatch.setattr(detector_module, "SAVE_SLICE", 2)
    state = tmp_path / "state"
    detector, checkpoint, expected = _checkpoint_begun(tmp_path, state)
    detector.write_checkpoint(checkpoint, {})
    at = 61
    while detector.saving:
        at += 1
        detector.process([_ev("ssh_login_failed", at, source__ip=f"10.0.{i // 256}.{i % 256}",
                              user__name=f"u{at}") for i in range(0, 3000, 7)])
    assert at > 62  # detection went on while the checkpoint was written
    assert _saved_groups(state) == expected


def test_a_busy_detection_thread_finishes_a_checkpoint_the_writer_cannot_get_to(
        tmp_path: Path, monkeypatch: Any) -> None:
    import logsentry.detect.detector as detector_module

    # A detection thread that never leaves the lock: no writer is started here at all,
    # yet each batch serializes a share of the checkpoint, copy-on-write keeping it exact.
    monkeypatch.setattr(detector_module, "SAVE_SLICE", 4)
    state = tmp_path / "state"
    detector, checkpoint, expected = _checkpoint_begun(tmp_path, state, 600)
    at = 61
    while not checkpoint.serialized:
        at += 1
        assert at < 100_000
        detector.process([_ev("ssh_login_failed", at, source__ip=f"10.0.{i // 256}.{i % 256}",
                              user__name=f"u{at}") for i in range(0, 600, 7)])
    assert at > 62
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected


def test_groups_evicted_during_a_checkpoint_are_written_at_once_not_held_beside_the_state(
        tmp_path: Path, monkeypatch: Any) -> None:
    import logsentry.detect.detector as detector_module

    # A flood of new sources at the cap while the checkpoint moves on by one slice a batch
    # (every batch past the bound, as on a busy machine): eviction drops groups the walk
    # has not written yet, faster than the walk goes.
    monkeypatch.setattr(detector_module, "SAVE_SLICE", 8)
    monkeypatch.setattr(detector_module, "SAVE_BATCH_MAX", 0.0)
    state = tmp_path / "state"
    config = _config(tmp_path, BRUTE, persist_interval=0.001)
    detector = Detector.from_config(config, state)
    _many_groups(detector, 400)
    expected = json.loads(json.dumps(_state_now(detector)))
    detector.memory_cap_bytes = detector.memory_bytes
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    for n in range(10):
        detector.process([_ev("ssh_login_failed", 61, source__ip=f"192.0.{n}.{i}")
                          for i in range(40)])
        # The groups the checkpoint keeps alive beside the state stay within the cap.
        kept_aside = sum(group.size for _, group in checkpoint._aside)
        assert detector.memory_bytes + kept_aside <= detector.memory_cap_bytes
    assert detector.evictions >= 300 and not checkpoint.serialized
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected


def test_a_checkpoint_writes_groups_in_the_order_eviction_takes_them(
        tmp_path: Path, monkeypatch: Any) -> None:
    import logsentry.detect.detector as detector_module

    # Least recently touched first, and left in their place: eviction under the cap during
    # the save takes groups already written, which cost nothing more to let go.
    monkeypatch.setattr(detector_module, "SAVE_SLICE", 8)
    monkeypatch.setattr(detector_module, "SAVE_BATCH_MAX", 0.0)  # one slice a batch
    state = tmp_path / "state"
    detector, checkpoint, expected = _checkpoint_begun(tmp_path, state, 400)
    oldest_first = list(detector.engines[0].groups)
    for _ in range(8):
        assert not checkpoint.advance()
    written = [group["k"][0] for piece in checkpoint._out for group in json.loads(piece)[1]]
    assert written == oldest_first[:64]
    detector.memory_cap_bytes = detector.memory_bytes
    detector.process([_ev("ssh_login_failed", 61, source__ip=f"192.0.2.{i}")
                      for i in range(10)])
    evicted = oldest_first[:detector.evictions]
    assert 10 < len(evicted) < 64
    assert not set(evicted) & set(detector.engines[0].groups)
    # The batch's slice wrote the next groups of the walk, none of the evicted apart.
    [(_, docs)] = [json.loads(piece) for piece in checkpoint._out[8:]]
    assert [group["k"][0] for group in docs] == oldest_first[64:72]
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected


def test_a_checkpoint_of_a_split_table_goes_oldest_first_across_its_shards(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector, checkpoint, expected = _checkpoint_begun(tmp_path, state, 9000)
    table = detector.engines[0].groups
    assert table.single is None  # split into shards
    oldest_first = [group.key[0] for group in sorted(table.values(), key=lambda g: g.touched)]
    for _ in range(100):  # a slice to list each of the 64 shards' keys, the rest to write
        assert not checkpoint.advance()
    written = [group["k"][0] for piece in checkpoint._out for group in json.loads(piece)[1]]
    assert len(written) > 1000 and written == oldest_first[:len(written)]
    # Changes, new groups and evictions while the rest is walked: still one instant.
    detector.memory_cap_bytes = detector.memory_bytes
    detector.process([_ev("ssh_login_failed", 61, source__ip=f"10.0.{i // 256}.{i % 256}")
                      for i in range(0, 9000, 3)]
                     + [_ev("ssh_login_failed", 61, source__ip=f"192.0.{i // 256}.{i % 256}")
                        for i in range(2000)])
    assert detector.evictions > 0
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected


def test_groups_copied_in_place_before_the_walk_leave_the_rest_of_their_shard_written(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector, checkpoint, expected = _checkpoint_begun(tmp_path, state, 9000)
    engine = detector.engines[0]
    # The oldest group of each shard changes where it is (as a Sigma window that closes).
    for shard in engine.groups.shards:
        checkpoint.preserve(engine, next(iter(shard.values())))
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected


def test_a_batch_past_the_save_bound_serializes_one_slice_of_the_checkpoint(
        tmp_path: Path, monkeypatch: Any) -> None:
    import logsentry.detect.detector as detector_module

    monkeypatch.setattr(detector_module, "SAVE_SLICE", 8)
    # A share that would serialize everything at once, but every batch past the bound.
    monkeypatch.setattr(detector_module, "SAVE_SHARE", 1000.0)
    monkeypatch.setattr(detector_module, "SAVE_HELP", 10.0)
    monkeypatch.setattr(detector_module, "SAVE_BATCH_MAX", 0.0)
    detector, checkpoint, _ = _checkpoint_begun(tmp_path, tmp_path / "state", 400)
    detector.process([_ev("ssh_login_failed", 61, source__ip="192.0.2.1")])
    written = [group for piece in checkpoint.take() for group in json.loads(piece)[1]]
    assert len(written) == 8


def test_the_writer_writes_the_slices_of_a_turn_in_one_piece(
        tmp_path: Path, monkeypatch: Any) -> None:
    import threading

    import logsentry.detect.detector as detector_module

    monkeypatch.setattr(detector_module, "SAVE_SLICE", 8)
    _, checkpoint, _ = _checkpoint_begun(tmp_path, tmp_path / "state", 400)
    for _ in range(3):  # the detection thread's share: three slices wait for the writer
        assert not checkpoint.advance()
    pieces = checkpoint.pieces(threading.Lock())
    next(pieces)  # the header
    # The three waiting and the writer's own, each write letting go of the interpreter
    # lock once.
    assert len(json.loads(b"[" + next(pieces) + b"]")) == 4


def test_a_value_that_cannot_be_saved_fails_the_checkpoint_not_detection(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, BRUTE, persist_interval=0.001), state)
    _many_groups(detector, 10)
    next(iter(detector.engines[0].groups.values())).values = {"x": object()}  # type: ignore[dict-item]
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    detector.process([_ev("ssh_login_failed", 70, source__ip="192.0.2.1")])  # helps, fails
    assert checkpoint.serialized and checkpoint.failed is not None
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert not (state / STATE_FILE).exists() and detector._dirty


def test_save_state_during_a_checkpoint_writes_the_whole_state_with_its_positions(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, BRUTE, persist_interval=0.001), state)
    _many_groups(detector, 500)
    detector._last_save -= 1
    assert detector.begin_checkpoint() is not None
    assert detector.saving
    _many_groups(detector, 600)
    detector.save_state({"app": "end"})  # shutdown: blocking, complete, the checkpoint dropped
    assert not detector.saving
    assert len(_saved_groups(state)) == 600
    assert json.loads((state / STATE_FILE).read_text())["positions"] == {"app": "end"}


def test_restore_pauses_the_garbage_collector_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    import gc

    config = _config(tmp_path, BRUTE)
    state = tmp_path / "state"
    first = Detector.from_config(config, state)
    _many_groups(first, 100)
    first.save_state()
    assert gc.isenabled()
    assert Detector.from_config(config, state).group_count == 100
    assert gc.isenabled()
    gc.disable()
    try:
        assert Detector.from_config(config, state).group_count == 100
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_restored_groups_are_frozen_out_of_full_collections(tmp_path: Path) -> None:
    import gc

    config = _config(tmp_path, BRUTE)
    state = tmp_path / "state"
    first = Detector.from_config(config, state)
    _many_groups(first, 100)
    first.save_state()
    try:
        restored = Detector.from_config(config, state)
        groups = {id(group) for group in restored.engines[0].groups.values()}
        assert len(groups) == 100
        # gc.get_objects() lists what collections visit; the permanent generation is not.
        assert not groups & {id(obj) for obj in gc.get_objects()}
    finally:
        gc.unfreeze()


def test_a_failed_checkpoint_write_is_logged_and_retried_at_the_next_interval(
        tmp_path: Path) -> None:
    from logsentry.core.metrics import STATE_SAVE_FAILURES

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    detector = Detector.from_config(_config(tmp_path, BRUTE, persist_interval=0.001), blocker)
    failures = STATE_SAVE_FAILURES._value.get()
    _many_groups(detector, 10)
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert not detector.saving and detector._dirty  # the next interval saves again
    assert STATE_SAVE_FAILURES._value.get() == failures + 1
    blocker.unlink()
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert len(_saved_groups(blocker)) == 10


def test_a_checkpoint_leaves_the_least_recently_used_order_as_it_was(tmp_path: Path) -> None:
    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, BRUTE, persist_interval=0.001), state)
    _many_groups(detector, 500)
    before = list(detector.engines[0].groups)
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert list(detector.engines[0].groups) == before
    assert len(_saved_groups(state)) == 500


def test_a_frozen_copy_has_every_field_and_none_of_the_later_changes(tmp_path: Path) -> None:
    from logsentry.detect.group import GroupState

    detector = Detector.from_config(_config(tmp_path, BRUTE), None)
    detector.process([_ev("ssh_login_failed", 0, source__ip="1.2.3.4", user__name="a")])
    [group] = detector.engines[0].groups.values()
    copy = group.frozen_copy()
    assert all(getattr(copy, name) == getattr(group, name) for name in GroupState.__slots__)
    before = copy.to_json()
    detector.process([_ev("ssh_login_failed", 1, source__ip="1.2.3.4", user__name="b")])
    assert copy.to_json() == before != group.to_json()


def test_saving_a_large_state_writes_it_as_it_is_serialized(tmp_path: Path) -> None:
    import tracemalloc

    state = tmp_path / "state"
    detector = Detector.from_config(_config(tmp_path, BRUTE), state)
    _many_groups(detector, 20_000)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        assert detector.save_state()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    size = (state / STATE_FILE).stat().st_size
    # Slices are written as they are serialized: a few in memory at a time, where the
    # whole encoded state (the file's size) was held before it was written.
    assert peak < 0.2 * size, (peak, size)
    assert len(_saved_groups(state)) == 20_000


def test_the_detection_threads_share_of_a_checkpoint_waits_while_slices_wait_for_the_writer(
        tmp_path: Path, monkeypatch: Any) -> None:
    import logsentry.detect.detector as detector_module

    # Slices the detection thread serializes wait for the writer's next turn: unbounded
    # they piled up (67 MB at 391,697 groups), and their freed buffers left the heap
    # fragmented and resident.
    monkeypatch.setattr(detector_module, "SAVE_PENDING_MAX", 20_000)
    state = tmp_path / "state"
    detector, checkpoint, expected = _checkpoint_begun(tmp_path, state)
    assert not checkpoint.advance(float("inf"))  # a share with no end in time
    waiting = [len(piece) for piece in checkpoint._out]
    assert 20_000 <= sum(waiting) < 20_000 + max(waiting)
    assert not checkpoint.advance(float("inf"))  # nothing more until the writer takes them
    assert sum(len(piece) for piece in checkpoint._out) == sum(waiting)
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected


def test_a_written_checkpoint_hands_the_freed_pages_back(tmp_path: Path, monkeypatch: Any) -> None:
    import platform

    import logsentry.detect.detector as detector_module
    from logsentry.core.memory import release_free_memory

    # glibc keeps freed pages of the encoded state resident unless asked (malloc_trim).
    assert release_free_memory() == (platform.libc_ver()[0] == "glibc")
    calls: list[bool] = []
    monkeypatch.setattr(detector_module, "release_free_memory",
                        lambda: calls.append(True) or True)
    detector = Detector.from_config(_config(tmp_path, BRUTE, persist_interval=0.001),
                                    tmp_path / "state")
    _many_groups(detector, 1000)
    detector._last_save -= 1
    checkpoint = detector.begin_checkpoint()
    assert checkpoint is not None
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert calls == [True]


def test_each_batch_during_a_checkpoint_leaves_the_young_generation_collected(
        tmp_path: Path) -> None:
    import gc

    # Frozen groups whose tuples each batch replaces, copies made and dropped: every old
    # object freed counts against the collector's allocation count, so new objects could
    # pile up in the young generation unvisited until one long collection (380,000
    # objects, 200 ms, at 390,000 groups in bench_detect's save bench). Each batch
    # during a checkpoint collects what it left there.
    counting = BRUTE.replace("count: 5, window: 2m", "count: 100000, window: 1h")
    detector = Detector.from_config(_config(tmp_path, counting, persist_interval=0.001),
                                    tmp_path / "state")
    _many_groups(detector, 20_000)
    gc.collect()
    gc.freeze()
    try:
        young: list[int] = []
        for at in range(61, 141):
            if not detector.saving:
                detector._last_save -= 1
                assert detector.begin_checkpoint() is not None
            detector.process([_ev("ssh_login_failed", at,
                                  source__ip=f"10.0.{i // 256}.{i % 256}", user__name="root")
                              for i in range(at % 2, 20_000, 8)])
            young.append(len(gc.get_objects(0)))
        assert max(young) < 100, young
    finally:
        gc.unfreeze()


def test_a_checkpoint_step_looks_past_a_bounded_number_of_groups_already_written(
        tmp_path: Path, monkeypatch: Any) -> None:
    import logsentry.detect.detector as detector_module
    from logsentry.detect.group_table import GroupTable

    # Every group touched during the save is copied and written apart: the walk's keys are
    # then all written, and one step must not scan them all under the detection lock.
    monkeypatch.setattr(detector_module, "SAVE_SKIP", 8)
    state = tmp_path / "state"
    detector, checkpoint, expected = _checkpoint_begun(tmp_path, state, 2000)
    detector.process([_ev("ssh_login_failed", 61, source__ip=f"10.0.{i // 256}.{i % 256}",
                          user__name="root") for i in range(2000)])
    while checkpoint._aside:
        checkpoint.advance()
    looked = 0
    table_get = GroupTable.get

    def counted_get(table: GroupTable, key: Any) -> Any:
        nonlocal looked
        looked += 1
        return table_get(table, key)

    monkeypatch.setattr(GroupTable, "get", counted_get)
    checkpoint.advance()  # one slice
    assert 0 < looked <= detector_module.SAVE_SLICE * (8 + 1) + 8
    monkeypatch.setattr(GroupTable, "get", table_get)
    detector.write_checkpoint(checkpoint, {})
    assert detector.wait_for_save(5)
    assert _saved_groups(state) == expected
