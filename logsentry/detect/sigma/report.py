"""Printing what was loaded: the usable Sigma rules and the skipped ones with reasons."""

from __future__ import annotations

from collections.abc import Collection
from typing import TextIO

import structlog

from logsentry.detect.sigma.ruleset import SigmaRuleSet

log = structlog.get_logger(__name__)


def printable(text: str) -> str:
    """`text` with control characters escaped (rule titles and lines are input)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def print_skipped(sigma: SigmaRuleSet, out: TextIO,
                  known: Collection[str] = frozenset()) -> None:
    """One line per skipped rule (file, title and reason), then one per field of a loaded
    rule that no event carries (file, title, field and the table to extend); `known`:
    more fields events carry (those the configured sources add)."""
    for skipped in sigma.skipped:
        title = f" {printable(skipped.title)!r}" if skipped.title else ""
        out.write(f"# sigma skipped: {skipped.path}{title}: {printable(skipped.reason)}\n")
    for warning in sigma.loaded.warnings:
        if not known or not any(target in known for target in warning.targets):
            out.write(f"# sigma warning: {warning.path} {printable(warning.title)!r}: "
                      f"{printable(warning.text())}\n")


def log_loaded(sigma: SigmaRuleSet) -> None:
    """The daemon's account of its Sigma rules at every (re)start: how many loaded, then one
    warning per skipped rule and per field no event carries (the same facts `print_skipped`
    writes for the command line), so a rule that cannot fire is never silent."""
    log.info("sigma_rules_loaded", rules=len(sigma.rules), skipped=len(sigma.skipped),
             field_warnings=len(sigma.loaded.warnings))
    for skipped in sigma.skipped:
        log.warning("sigma_rule_skipped", path=skipped.path, title=printable(skipped.title),
                    reason=printable(skipped.reason))
    for warning in sigma.loaded.warnings:
        log.warning("sigma_field_unread", path=warning.path, title=printable(warning.title),
                    field=printable(warning.field), detail=printable(warning.text()))


def print_loaded(sigma: SigmaRuleSet, out: TextIO,
                 known: Collection[str] = frozenset()) -> None:
    """The loaded rules (id, level, title, file), then the skipped ones and the fields no
    event carries, as comments."""
    out.write(f"# sigma: {len(sigma.rules)} rules loaded, {len(sigma.skipped)} skipped\n")
    for rule, path, note in zip(sigma.rules, sigma.paths, sigma.notes, strict=True):
        note = f" {printable(note)}" if note else ""
        out.write(f"# sigma loaded: {rule.id} {rule.severity} {printable(rule.title)!r} "
                  f"({path}){note}\n")
    print_skipped(sigma, out, known)
