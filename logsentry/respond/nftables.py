"""The built-in responder: the decisions as elements of named nftables sets.

One table (`inet logsentry` by default) holds an IPv4 and an IPv6 set with
element timeouts, and an input chain that drops what is in them. The kernel
expires each element on time on its own; a deleted decision is removed at once.
Commands go to `nft -j -f -` as libnftables' JSON, so no value is ever parsed as
nft syntax.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from typing import Any

import orjson
import structlog

from logsentry.core.metrics import NFT_FAILURES
from logsentry.respond.config import NftablesConfig
from logsentry.respond.decision import Decision

log = structlog.get_logger(__name__)

SET_V4 = "blocked4"
SET_V6 = "blocked6"


class NftablesError(RuntimeError):
    """`nft` refused a command."""


class NftablesResponder:
    """Keeps the table's sets equal to the active ban decisions."""

    def __init__(self, config: NftablesConfig) -> None:
        self.config = config
        self.table = config.table

    async def start(self, active: Sequence[Decision], now: float) -> None:
        """Create the table, sets and chain afresh, then load the active decisions."""
        await self._run([{"add": {"table": self._table()}},
                         {"delete": {"table": self._table()}}])
        family = {"family": "inet", "table": self.table}
        commands: list[dict[str, Any]] = [{"add": {"table": self._table()}}]
        for name, kind in ((SET_V4, "ipv4_addr"), (SET_V6, "ipv6_addr")):
            commands.append({"add": {"set": {**family, "name": name, "type": kind,
                                             "flags": ["interval", "timeout"]}}})
        commands.append({"add": {"chain": {
            **family, "name": "input", "type": "filter", "hook": "input",
            "prio": self.config.priority, "policy": "accept"}}})
        for proto, name in (("ip", SET_V4), ("ip6", SET_V6)):
            commands.append({"add": {"rule": {**family, "chain": "input", "expr": [
                {"match": {"op": "==",
                           "left": {"payload": {"protocol": proto, "field": "saddr"}},
                           "right": f"@{name}"}},
                {"drop": None}]}}})
        await self._run(commands)
        await self.add(active, now)
        log.info("nftables_ready", table=f"inet {self.table}", elements=len(active))

    async def stop(self) -> None:
        """Remove the table: nothing of logsentry's stays in the ruleset."""
        try:
            await self._run([{"delete": {"table": self._table()}}])
        except (NftablesError, OSError) as exc:
            log.warning("nftables_cleanup_failed", error=str(exc))

    async def add(self, decisions: Sequence[Decision], now: float) -> None:
        commands = [{"add": {"element": {
            "family": "inet", "table": self.table, "name": _set_of(d),
            "elem": [{"elem": {"val": _value(d),
                               "timeout": max(1, math.ceil(d.until - now))}}]}}}
            for d in decisions if d.type == "ban" and d.until > now]
        await self._run(commands)

    async def delete(self, decisions: Sequence[Decision]) -> None:
        # One command each: deleting an element the kernel already expired fails alone.
        for decision in decisions:
            if decision.type != "ban":
                continue
            with contextlib.suppress(NftablesError):
                await self._run([{"delete": {"element": {
                    "family": "inet", "table": self.table, "name": _set_of(decision),
                    "elem": [_value(decision)]}}}])

    def _table(self) -> dict[str, str]:
        return {"family": "inet", "name": self.table}

    async def _run(self, commands: list[dict[str, Any]]) -> None:
        if not commands:
            return
        payload = orjson.dumps({"nftables": [{"metainfo": {"json_schema_version": 1}},
                                             *commands]})
        process = await asyncio.create_subprocess_exec(
            self.config.nft, "-j", "-f", "-", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, stderr = await process.communicate(payload)
        if process.returncode != 0:
            NFT_FAILURES.inc()
            raise NftablesError(stderr.decode(errors="replace").strip()[:500])


def _set_of(decision: Decision) -> str:
    return SET_V4 if decision.network.version == 4 else SET_V6


def _value(decision: Decision) -> Any:
    network = decision.network
    if network.num_addresses == 1:
        return str(network.network_address)
    return {"prefix": {"addr": str(network.network_address), "len": network.prefixlen}}
