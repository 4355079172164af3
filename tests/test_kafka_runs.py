"""Record runs (logsentry.sources.kafka_runs) against aiokafka's own record iteration.

Fetch results are built the way aiokafka's fetcher builds them (a FetchResult
around a PartitionRecords of real record-batch bytes, under a real
SubscriptionState) and drained through aiokafka's FetchResult.getall, once as
ConsumerRecords and once as runs: the same values at the same offsets must
come out, and the partition's position must never skip or repeat a record.
"""

from __future__ import annotations

import struct
from typing import Any

import aiokafka
import pytest
from aiokafka.consumer.fetcher import READ_COMMITTED, FetchResult, PartitionRecords
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.legacy_records import LegacyRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition

from logsentry.sources.kafka_runs import RecordRun, RunBuffer, install_runs, supported

TP = TopicPartition("logs", 0)
# v2 batch header: attributes at 21 (the CRC covers from there), lastOffsetDelta at 23.
ATTRIBUTES, CRC, LAST_OFFSET_DELTA = 21, 17, 23
CONTROL, TRANSACTIONAL = 0x20, 0x10

Entry = tuple[int, bytes | None]  # offset delta in the batch, value


def v2_batch(base: int, entries: list[Entry], *, compression: int = 0,
             last_offset_delta: int | None = None, control: bool = False) -> bytes:
    """A record batch as a broker stores it (base offset set, header fields adjusted)."""
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=compression, is_transactional=int(control),
        producer_id=7 if control else -1, producer_epoch=0 if control else -1,
        base_sequence=-1, batch_size=1 << 20)
    for delta, value in entries:
        builder.append(delta, timestamp=None, key=b"k%d" % delta, value=value,
                       headers=[("h", b"v")])
    data = builder.build()
    struct.pack_into(">q", data, 0, base)
    if control:
        struct.pack_into(">h", data, ATTRIBUTES, CONTROL | TRANSACTIONAL)
    if last_offset_delta is not None:  # records at the end compacted away
        struct.pack_into(">i", data, LAST_OFFSET_DELTA, last_offset_delta)
    struct.pack_into(">I", data, CRC, calc_crc32c(bytes(data[ATTRIBUTES:])))
    return bytes(data)


def legacy_batch(entries: list[tuple[int, bytes]], compression: int = 0) -> bytes:
    builder = LegacyRecordBatchBuilder(magic=1, compression_type=compression, batch_size=1 << 20)
    for offset, value in entries:
        builder.append(offset, timestamp=None, key=None, value=value)
    data = builder.build()
    if compression:  # as a broker stores it: the wrapper has the last inner offset
        struct.pack_into(">q", data, 0, entries[-1][0])
    return bytes(data)


def mixed_log(fetch_offset: int = 0) -> bytes:
    """Batches as a real partition has them: gaps, a control batch, compression, tombstones.

    As a broker answers a fetch: from the batch holding `fetch_offset` on.
    """
    batches = [  # (next offset after the batch, the batch)
        (10, v2_batch(0, [(i, b"line %d" % i) for i in range(10)])),
        (18, v2_batch(10, [(0, b"a"), (2, None), (5, b"")], last_offset_delta=7)),  # gaps
        (19, v2_batch(18, [(0, b"")], control=True)),  # a transaction marker: no line
        (44, v2_batch(19, [(i, b"gz %d" % i) for i in range(25)], compression=1)),
        (45, v2_batch(44, [(0, b"last")])),
    ]
    return b"".join(data for end, data in batches if end > fetch_offset)


def fetch_result(subscription: SubscriptionState, log: bytes, fetch_offset: int,
                 isolation_level: int = 0) -> FetchResult:
    """What aiokafka's fetcher buffers for a fetch of `log` from `fetch_offset`."""
    assignment = subscription.subscription.assignment
    records = PartitionRecords(TP, MemoryRecords(log), [], fetch_offset, None, None, True,
                               isolation_level)
    return FetchResult(TP, assignment=assignment, partition_records=records, backoff=0)


def subscribed(fetch_offset: int) -> SubscriptionState:
    subscription = SubscriptionState()
    subscription.assign_from_user({TP})
    subscription.subscription.assignment.state_value(TP).seek(fetch_offset)
    return subscription


def position(subscription: SubscriptionState) -> int:
    return int(subscription.subscription.assignment.state_value(TP).position)


def drain(subscription: SubscriptionState, result: FetchResult, max_records: int,
          ) -> list[tuple[list[Any], int]]:
    """getall until the result is used up: what each call returned, and the position after it."""
    steps = []
    while result.has_more():
        got = result.getall(max_records)
        steps.append((got, position(subscription)))
    return steps


def as_records(subscription: SubscriptionState, log: bytes, fetch_offset: int,
               ) -> tuple[list[bytes | None], list[int], int]:
    result = fetch_result(subscription, log, fetch_offset)
    records = [record for got, _ in drain(subscription, result, 1000) for record in got]
    return ([r.value for r in records], [r.offset + 1 for r in records], position(subscription))


def as_runs(subscription: SubscriptionState, log: bytes, fetch_offset: int, size: int,
            max_records: int) -> tuple[list[bytes | None], list[int], int]:
    buffer = RunBuffer(size)
    buffer[TP] = fetch_result(subscription, log, fetch_offset)
    _, all_offsets, end = as_records(subscribed(fetch_offset), log, fetch_offset)
    values: list[bytes | None] = []
    offsets: list[int] = []
    for got, after in drain(subscription, buffer[TP], max_records):
        for run in got:
            assert isinstance(run, RecordRun)
            assert 1 <= len(run.values) == len(run.offsets) <= size
            values += run.values
            offsets += run.offsets
        # The position is never behind what was handed on (a re-read) nor
        # past the next record to come (a skip).
        to_come = all_offsets[len(offsets):]
        assert offsets[-1] <= after <= (to_come[0] - 1 if to_come else end)
    return values, offsets, position(subscription)


@pytest.mark.parametrize("fetch_offset", [0, 4, 11, 17, 18, 30])
@pytest.mark.parametrize(("size", "max_records"), [(1, 1), (3, 2), (7, 500), (512, 500)])
async def test_runs_give_the_values_and_offsets_of_aiokafkas_records(
        fetch_offset: int, size: int, max_records: int) -> None:
    log = mixed_log(fetch_offset)
    expected = as_records(subscribed(fetch_offset), log, fetch_offset)
    got = as_runs(subscribed(fetch_offset), log, fetch_offset, size, max_records)
    assert got == expected
    assert expected[1][0] > fetch_offset  # the records before the fetch offset were skipped
    assert expected[2] == 45  # after the last batch


@pytest.mark.parametrize("compression", [0, 1])
async def test_runs_read_legacy_message_sets_like_aiokafka(compression: int) -> None:
    log = legacy_batch([(i, b"old %d" % i) for i in range(12)], compression)
    # Compressed, the wrapper message holds them all: a fetch from 5 starts inside it.
    for fetch_offset in (0, 5) if compression else (0,):
        expected = as_records(subscribed(fetch_offset), log, fetch_offset)
        assert as_runs(subscribed(fetch_offset), log, fetch_offset, 4, 3) == expected
        assert expected[0][0] == b"old %d" % fetch_offset


async def test_a_bad_crc_stops_the_runs_where_aiokafka_stops_after_the_records_before_it(
        ) -> None:
    good = v2_batch(0, [(i, b"ok %d" % i) for i in range(5)])
    bad = bytearray(v2_batch(5, [(i, b"bad %d" % i) for i in range(5)]))
    bad[-1] ^= 0xFF
    log = good + bytes(bad)
    for size in (2, 100):
        subscription = subscribed(0)
        buffer = RunBuffer(size)
        buffer[TP] = fetch_result(subscription, log, 0)
        values: list[bytes | None] = []
        with pytest.raises(CorruptRecordException):
            while True:
                for run in buffer[TP].getall(1):
                    values += run.values
        assert values == [b"ok %d" % i for i in range(5)]
        # The next getall ends the result at the bad batch: it is fetched again.
        assert buffer[TP].getall(1) == []
        assert position(subscription) == 5


async def test_results_runs_cannot_stand_in_for_are_left_to_aiokafka() -> None:
    log = mixed_log()
    subscription = subscribed(0)
    buffer = RunBuffer(10)
    buffer[TP] = fetch_result(subscription, log, 0, isolation_level=READ_COMMITTED)
    assert [record.value for record in buffer[TP].getall(2)] == [b"line 0", b"line 1"]
    subscription = subscribed(0)
    started = fetch_result(subscription, log, 0)
    assert started.getall(1)[0].value == b"line 0"  # something already read from it
    buffer[TP] = started
    assert [record.value for record in buffer[TP].getall(2)] == [b"line 1", b"line 2"]


async def test_runs_install_only_on_the_aiokafka_release_they_were_checked_against(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert supported()
    assert not supported("0.15.0")

    class Fetcher:
        def __init__(self) -> None:
            import collections

            self._records: Any = collections.OrderedDict()

    class Consumer:
        def __init__(self) -> None:
            self._fetcher = Fetcher()

    consumer = Consumer()
    assert install_runs(consumer, 10)
    assert isinstance(consumer._fetcher._records, RunBuffer)
    monkeypatch.setattr(aiokafka, "__version__", "0.15.0")
    other = Consumer()
    assert not install_runs(other, 10)
    assert type(other._fetcher._records) is not RunBuffer
