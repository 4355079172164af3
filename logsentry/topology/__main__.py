"""`python -m logsentry.topology --config FILE [--stage analyze|detect|both]`.

Runs the Kafka stages of one configuration file until SIGTERM/SIGINT (the
daemon's `logsentry run` does the same once wired, see docs/kafka.md). The
`topology:` section is read from the file whether or not the top-level
configuration model knows it yet.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import yaml

from logsentry.config import Config, ConfigError, parse_config
from logsentry.topology.config import TopologyConfig
from logsentry.topology.runner import run_stages


def load(path: Path, stage: str | None) -> tuple[Config, TopologyConfig]:
    """The configuration and its topology section (`stage` overrides its mode)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    section = dict(data.get("topology") or {})
    if "topology" not in Config.model_fields:
        data.pop("topology", None)
    config = parse_config(yaml.safe_dump(data), str(path))
    if stage is not None:
        section["mode"] = stage
    return config, TopologyConfig.model_validate(section)


async def _main(config: Config, topology: TopologyConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_stages(config, topology, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logsentry.topology")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--stage", choices=("analyze", "detect", "both"))
    args = parser.parse_args(argv)
    try:
        config, topology = load(args.config, args.stage)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"logsentry: {exc}", file=sys.stderr)
        return 2
    from logsentry.logsetup import configure_logging

    configure_logging(config.logging.level, config.logging.format)
    asyncio.run(_main(config, topology))
    return 0


if __name__ == "__main__":
    sys.exit(main())
