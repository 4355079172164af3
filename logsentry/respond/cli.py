"""`logsentry decisions list|add|delete` and `logsentry bouncers add|list|delete`.

Both work on the state directory of the configuration, beside a running daemon:
the daemon applies decisions added or deleted here within a second.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from logsentry.core.errors import ConfigError
from logsentry.detect.duration import parse_duration
from logsentry.respond.bouncer_keys import BouncerKeys
from logsentry.respond.decision import MANUAL_ORIGIN, Decision, decision_uuid, go_duration
from logsentry.respond.store import DecisionStore


def register(subparsers: Any) -> None:
    """Add `decisions` and `bouncers` to the main parser's subparsers."""
    decisions = subparsers.add_parser(
        "decisions", help="list, add and delete active-response decisions",
        description="The decisions in the state directory of the configuration (a running "
                    "daemon applies changes within a second).")
    sub = decisions.add_subparsers(dest="decisions_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="the decisions in force")
    listing.add_argument("--json", action="store_true", help="one JSON object per decision")
    add = sub.add_parser("add", help="decide on an address or network by hand")
    target = add.add_mutually_exclusive_group(required=True)
    target.add_argument("--ip", help="an address")
    target.add_argument("--range", help="a network in CIDR notation")
    add.add_argument("--duration", default="4h", help="how long (90s, 30m, 4h, 7d; default 4h)")
    add.add_argument("--type", choices=("ban", "captcha", "throttle"), default="ban")
    add.add_argument("--reason", default="manual", help="recorded as the scenario")
    delete = sub.add_parser("delete", help="end decisions now")
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("--ip", help="every decision on this exact address")
    which.add_argument("--range", help="every decision on this exact network")
    which.add_argument("--id", type=int, help="the decision with this id")
    for parser in (listing, add, delete):
        _add_config_option(parser)
    decisions.set_defaults(func=decisions_command)

    bouncers = subparsers.add_parser(
        "bouncers", help="API keys of CrowdSec bouncers that read the decisions",
        description="Keys are stored as SHA-256 digests in the state directory; `add` "
                    "prints the new key once.")
    sub = bouncers.add_subparsers(dest="bouncers_command", required=True, metavar="ACTION")
    add_bouncer = sub.add_parser("add", help="register a bouncer and print its key")
    add_bouncer.add_argument("name")
    sub.add_parser("list", help="the registered bouncers")
    delete_bouncer = sub.add_parser("delete", help="revoke a bouncer's key")
    delete_bouncer.add_argument("name")
    for parser in sub.choices.values():
        _add_config_option(parser)
    bouncers.set_defaults(func=bouncers_command)


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="configuration file whose state_dir to use "
                                         "(default: $LOGSENTRY_CONFIG, else the default file)")


def _state_dir(args: argparse.Namespace) -> Path:
    from logsentry.config import DEFAULT_STATE_DIR, load_config, resolve_path

    path = resolve_path(args.config)
    if args.config or path.exists():
        return load_config(path).state_dir
    return DEFAULT_STATE_DIR


def decisions_command(args: argparse.Namespace) -> int:
    store = DecisionStore.open(_state_dir(args) / "decisions", time.time())
    now = time.time()
    if args.decisions_command == "list":
        active = sorted(store.active(now), key=lambda d: d.created)
        for decision in active:
            if args.json:
                sys.stdout.buffer.write(orjson.dumps(decision.to_lapi(now)) + b"\n")
            else:
                print(f"{decision.id:>16}  {decision.type:<8} {decision.scope}:{decision.value:<40}"
                      f" {decision.scenario:<28} {decision.origin:<10}"
                      f" {go_duration(round(decision.until - now))}")
        if not args.json:
            print(f"{len(active)} decision(s) in force", file=sys.stderr)
        return 0
    if args.decisions_command == "add":
        value = _target(args.ip, args.range)
        try:
            seconds = parse_duration(args.duration)
        except ValueError as exc:
            raise ConfigError(f"--duration: {exc}") from None
        stamp = datetime.fromtimestamp(now, UTC).isoformat()
        decision = Decision(
            uuid=decision_uuid(MANUAL_ORIGIN, value, stamp), value=value, type=args.type,
            origin=MANUAL_ORIGIN, scenario=args.reason, created=now, until=now + seconds,
            offense=store.offenses(value) + 1)
        store.add([decision], now)
        print(f"{decision.id}: {decision.type} on {value} for {go_duration(seconds)}")
        return 0
    if args.id is not None:
        chosen = [d for d in store.active(now) if d.id == args.id]
    else:
        value = _target(args.ip, args.range)
        chosen = store.active_on(value, now)
    gone = store.delete([d.uuid for d in chosen], now)
    print(f"{len(gone)} decision(s) deleted")
    return 0 if gone else 1


def _target(ip: str | None, network: str | None) -> str:
    try:
        if ip is not None:
            return str(ipaddress.ip_address(ip))
        parsed = ipaddress.ip_network(str(network), strict=False)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return str(parsed.network_address) if parsed.num_addresses == 1 else str(parsed)


def bouncers_command(args: argparse.Namespace) -> int:
    keys = BouncerKeys(_state_dir(args) / "bouncers.json")
    if args.bouncers_command == "add":
        key = keys.add(args.name)
        print(key)
        print(f"bouncer {args.name!r} added; give it this key as api_key (shown only once)",
              file=sys.stderr)
        return 0
    if args.bouncers_command == "list":
        for name, entry in sorted(keys.load().items()):
            created = datetime.fromtimestamp(float(str(entry.get("created", 0))), UTC)
            print(f"{name}  added {created.isoformat(timespec='seconds')}")
        return 0
    if keys.delete(args.name):
        print(f"bouncer {args.name!r} deleted", file=sys.stderr)
        return 0
    print(f"no bouncer named {args.name!r}", file=sys.stderr)
    return 1
