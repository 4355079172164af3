"""Reading fetched Kafka records as runs of values, without a ConsumerRecord each.

aiokafka buffers each fetch response of a partition as a `PartitionRecords`
whose iterator checks every record batch's CRC, skips control batches and the
records before the fetch offset, and yields one `ConsumerRecord` per record (a
dataclass holding the key and value sizes and a tuple of the headers, built
through a generator, a method call and the dataclass constructor). For a
source whose lines need only each record's value and offset, that per-record
Python layer is most of what reading Kafka costs over reading a file.

`install_runs(consumer, size)` makes the consumer's fetch buffer swap that
iterator, before anything has read from it, for one yielding `RecordRun`s: the
values and next offsets of up to `size` consecutive records. It makes the same
checks in the same order and leaves `next_fetch_offset` where aiokafka's own
iterator leaves it after the same records, so everything around it --
`getmany`, positions, pause, seek, the drop of records of revoked or paused
partitions, the refetch after a bad CRC -- stays aiokafka's. `getmany` then
returns RecordRuns in place of records, each counting as one record towards
`max_records`.

This relies on aiokafka internals, so it is pinned: it installs only on the
aiokafka release it was checked against (`VERIFIED_AIOKAFKA`) and only where
the structures it uses are there; a fetch result it does not recognise is
left alone and read through aiokafka's normal path (callers accept both).
Transactional reads (read_committed) and deserializers always take the normal
path.
"""

from __future__ import annotations

import collections
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from types import GeneratorType
from typing import Any

import aiokafka
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.errors import CorruptRecordException

# The aiokafka releases whose fetcher internals (Fetcher._records, FetchResult,
# PartitionRecords._unpack_records) this module was checked against.
VERIFIED_AIOKAFKA = ("0.14.",)
# PartitionRecords attributes the runs read or update.
_RECORDS_ATTRIBUTES = ("_tp", "_records", "_check_crcs", "_isolation_level",
                       "_key_deserializer", "_value_deserializer", "next_fetch_offset",
                       "_records_iterator")


@dataclass(slots=True)
class RecordRun:
    """Consecutive records of one partition: values and the next offset after each."""

    values: list[bytes | None]
    offsets: list[int]

    @property
    def first_offset(self) -> int:
        """The offset of the first record."""
        return self.offsets[0] - 1


def supported(version: str | None = None) -> bool:
    """Whether the runs were checked against this aiokafka release (default: the imported)."""
    if version is None:
        version = aiokafka.__version__
    return version.startswith(VERIFIED_AIOKAFKA) and all(
        hasattr(aiokafka_fetcher, name)
        for name in ("FetchResult", "PartitionRecords", "READ_UNCOMMITTED"))


def install_runs(consumer: Any, size: int) -> bool:
    """Read `consumer`'s fetched records as RecordRuns of up to `size` records.

    Call after `consumer.start()` (which creates the fetcher). Returns False,
    changing nothing, where the aiokafka release or its fetcher is not the
    one checked against: the consumer then returns ConsumerRecords only.
    """
    fetcher: Any = getattr(consumer, "_fetcher", None)
    buffered: Any = getattr(fetcher, "_records", None)
    if not supported() or buffered is None:
        return False
    if isinstance(buffered, RunBuffer):
        return True
    if type(buffered) is not collections.OrderedDict:
        return False
    # What arrived before this call is converted too, where nothing read it yet.
    fetcher._records = RunBuffer(size, buffered.items())
    return True


class RunBuffer(collections.OrderedDict[Any, Any]):
    """The fetcher's buffer of fetch results: each new one gets its records read as runs."""

    def __init__(self, size: int, items: Any = ()) -> None:
        self.size = size
        super().__init__()
        for tp, result in items:
            self[tp] = result

    def __setitem__(self, tp: Any, result: Any) -> None:
        partition_records = _fresh_partition_records(result)
        if partition_records is not None:
            partition_records._records_iterator = runs(partition_records, self.size)
        super().__setitem__(tp, result)


def _fresh_partition_records(result: Any) -> Any | None:
    """The PartitionRecords of `result` if runs can replace its iterator, else None."""
    if type(result) is not aiokafka_fetcher.FetchResult:
        return None  # a FetchError, or another release's type
    records: Any = getattr(result, "_partition_records", None)
    if type(records) is not aiokafka_fetcher.PartitionRecords:
        return None
    if not all(hasattr(records, name) for name in _RECORDS_ATTRIBUTES):
        return None
    iterator = records._records_iterator
    if (not isinstance(iterator, GeneratorType)
            or inspect.getgeneratorstate(iterator) != inspect.GEN_CREATED):
        return None  # something already read from it
    if (records._isolation_level != aiokafka_fetcher.READ_UNCOMMITTED
            or records._key_deserializer is not None
            or records._value_deserializer is not None):
        return None
    return records


def runs(records: Any, size: int) -> Iterator[RecordRun]:
    """RecordRuns of a PartitionRecords, as its own `_unpack_records` would yield records.

    The same order of checks: a batch with a bad CRC raises
    CorruptRecordException once the records before it are handed on (the
    fetcher then refetches from it); control batches are skipped; records
    before the fetch offset (the rest of a batch the fetch started inside) are
    skipped. `next_fetch_offset` is, whenever a run is handed on, the offset
    after its last record, or the end of its last batch when the run ends
    with that batch (records compacted away at a batch's end are not fetched
    again).
    """
    tp = records._tp
    buffer = records._records
    check_crcs = records._check_crcs
    size = max(1, size)
    values: list[bytes | None] = []
    offsets: list[int] = []
    while buffer.has_next():
        batch = buffer.next_batch()
        if check_crcs and not batch.validate_crc():
            if values:
                yield RecordRun(values, offsets)
            raise CorruptRecordException(f"Invalid CRC - {tp}")
        if not batch.is_control_batch:
            start = records.next_fetch_offset
            add_value, add_offset = values.append, offsets.append
            for record in batch:
                offset = record.offset
                if offset >= start:
                    add_value(record.value)
                    add_offset(offset + 1)
        end = batch.next_offset
        if len(values) >= size:
            full = len(values) - len(values) % size
            for first in range(0, full, size):
                last = first + size
                # Between runs nothing reads the position: only at the yield.
                records.next_fetch_offset = end if last == len(values) else offsets[last - 1]
                yield RecordRun(values[first:last], offsets[first:last])
            values, offsets = values[full:], offsets[full:]
        records.next_fetch_offset = end
    if values:
        yield RecordRun(values, offsets)
