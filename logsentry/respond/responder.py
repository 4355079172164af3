"""The alert output that takes decisions before passing alerts on.

It stands in front of the pipeline's alert output (the durable spool): for each
alert the configuration selects, it asks the policy for a decision, stores it
durably, marks the alert with it (`logsentry.decision`), and only then submits
the alerts on. A crash after the decision is stored re-raises the same alert on
replay, which yields the same decision uuid, stored once: no decision is lost
or doubled. Enforcement (nftables) and the bouncer API read the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from logsentry.core.alert import Alert
from logsentry.core.metrics import (
    DECISIONS,
    DECISIONS_ACTIVE,
    DECISIONS_ENDED,
    DECISIONS_REFUSED,
)
from logsentry.pipeline import AlertOutput
from logsentry.respond.config import RespondConfig
from logsentry.respond.decision import Decision
from logsentry.respond.nftables import NftablesError, NftablesResponder
from logsentry.respond.policy import Policy, allowlist
from logsentry.respond.store import DecisionStore

log = structlog.get_logger(__name__)

# How often expiry and other processes' changes (the command line) are applied.
REFRESH_SECONDS = 1.0
# At most this many refusals of one reason are logged per minute; all are counted.
REFUSALS_LOGGED_PER_MINUTE = 10


class Responder:
    """Decisions from alerts, kept in the store and pushed to the enforcers."""

    def __init__(self, config: RespondConfig, state_dir: Path,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.policy = Policy(config, allowlist(config.allowlist))
        self.store = DecisionStore.open(state_dir / "decisions", clock())
        self.nftables = NftablesResponder(config.nftables) if config.nftables.enabled else None
        self.inner: AlertOutput | None = None
        self._task: asyncio.Task[None] | None = None
        self._refusals: dict[str, list[float]] = {}
        self._lapi: object | None = None

    async def start(self) -> None:
        now = self.clock()
        if self.nftables is not None and not self.config.dry_run:
            await self.nftables.start(self.store.active(now), now)
        if self.config.lapi.enabled:
            from logsentry.respond.lapi import LapiServer

            server = LapiServer(self.config.lapi, self.store, self.clock,
                                self._keys_path())
            await server.start()
            self._lapi = server
        DECISIONS_ACTIVE.set(len(self.store.active(now)))
        self._task = asyncio.create_task(self._maintain(), name="respond-maintain")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._lapi is not None:
            from logsentry.respond.lapi import LapiServer

            assert isinstance(self._lapi, LapiServer)
            await self._lapi.close()
        if self.nftables is not None and not self.config.dry_run:
            await self.nftables.stop()

    def _keys_path(self) -> Path:
        return self.store.path.parent.parent / "bouncers.json"

    async def submit(self, alerts: list[Alert]) -> None:
        """Decide, store, mark the alerts; then pass them on."""
        now = self.clock()
        taken: list[Decision] = []
        for alert in alerts:
            if not self.policy.selects(alert):
                continue
            verdict = self.policy.decide(
                alert, lambda value: self._offenses(value, taken), now)
            if verdict.decision is None:
                self._refused(verdict.refused, alert)
                continue
            if len(self.store) + len(taken) >= self.config.max_active:
                self._refused("cap", alert)
                continue
            decision = self.store.get(verdict.decision.uuid) or verdict.decision
            replayed = decision is not verdict.decision  # the same alert, raised again
            if not replayed and (self.store.active_on(decision.value, now) or any(
                    d.value == decision.value for d in taken)):
                continue  # already decided on: one decision per address at a time
            alert.extra["decision"] = {
                "id": decision.id, "type": decision.type, "value": decision.value,
                "scope": decision.scope, "duration": round(decision.until - decision.created),
                "until": decision.until, **({"dry_run": True} if self.config.dry_run else {})}
            if self.config.dry_run:
                log.info("decision_dry_run", value=decision.value, type=decision.type,
                         rule=alert.rule_id, seconds=round(decision.until - now))
                continue
            if not replayed:
                taken.append(decision)
        if taken:
            added = await asyncio.get_running_loop().run_in_executor(
                None, self.store.add, taken, now)
            for decision in added:
                DECISIONS.labels(decision.type, decision.origin).inc()
                log.info("decision_taken", value=decision.value, type=decision.type,
                         rule=decision.scenario, seconds=round(decision.until - now),
                         offense=decision.offense)
            DECISIONS_ACTIVE.set(len(self.store))
            await self._enforce(added, [])
        if self.inner is not None:
            await self.inner.submit(alerts)

    def _offenses(self, value: str, taken: list[Decision]) -> int:
        """Decisions `value` had: stored ones, and those taken earlier in this batch."""
        return self.store.offenses(value) + sum(1 for d in taken if d.value == value)

    def _refused(self, reason: str, alert: Alert) -> None:
        DECISIONS_REFUSED.labels(reason).inc()
        now = time.monotonic()
        recent = [t for t in self._refusals.get(reason, []) if now - t < 60]
        if len(recent) < REFUSALS_LOGGED_PER_MINUTE:
            recent.append(now)
            level = log.warning if reason == "cap" else log.info
            level("decision_refused", reason=reason, rule=alert.rule_id,
                  source=alert.group.get("source.ip"), cap=self.config.max_active)
        self._refusals[reason] = recent

    async def _enforce(self, added: list[Decision], ended: list[Decision]) -> None:
        if self.nftables is None or self.config.dry_run:
            return
        try:
            if added:
                await self.nftables.add(added, self.clock())
            if ended:
                await self.nftables.delete(ended)
        except (NftablesError, OSError) as exc:
            log.error("nftables_update_failed", error=str(exc))

    async def _maintain(self) -> None:
        """Expire decisions, apply the command line's changes, compact the log."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            now = self.clock()
            seq = self.store.seq
            try:
                await loop.run_in_executor(None, self.store.refresh, now)
                await loop.run_in_executor(None, self.store.compact_if_worth_it, now)
            except OSError as exc:
                log.error("decisions_refresh_failed", error=str(exc))
                continue
            changes = self.store.changes_since(seq) or []
            added = [c.decision for c in changes if c.kind == "new"]
            ended = [c.decision for c in changes if c.kind == "deleted"]
            DECISIONS_ENDED.inc(len(ended))
            DECISIONS_ACTIVE.set(len(self.store))
            # Expired elements leave the sets on their own (timeouts); deleted ones not.
            await self._enforce(added, [d for d in ended if d.until > now - REFRESH_SECONDS])
