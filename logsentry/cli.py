"""The `logsentry` command line: run, demo, analyze, check-config, test-rules, model."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

import structlog

from logsentry import __version__
from logsentry.config import DEFAULT_CONFIG_PATH, Config, load_config, redacted, resolve_path
from logsentry.core.errors import AnalyzerUnavailable, ConfigError
from logsentry.core.pipes import discard_output
from logsentry.logsetup import configure_logging

log = structlog.get_logger(__name__)

# Exit statuses: 2 for configuration errors (as argparse does for usage errors).
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3

class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions; keeps text that has its own line breaks (the exit statuses)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


EXIT_STATUSES = """\
exit statuses:
  0    success (run: stopped by SIGTERM/SIGINT, or finite input read to its end)
  1    failure at run time: every source failed, the metrics address is taken
  2    configuration or usage error (the message names the file, line and key)
  3    the analyzer's model cannot be loaded
  130  interrupted (Ctrl-C)
"""

# Areas that add their own subcommands: module path of a `register(subparsers)`.
PLUGIN_COMMANDS = ("logsentry.detect.cli", "logsentry.detect.sigma.cli", "logsentry.respond.cli",
                   "logsentry.train.cli")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="logsentry",
        description="Real-time security log analysis with a small transformer on CPU.",
        epilog=EXIT_STATUSES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"logsentry {__version__}")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        help="own log level (default: from the configuration, else info)")
    parser.add_argument("--log-format", choices=("auto", "json", "console"),
                        help="own log format: JSON for journald, console on a terminal")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run the daemon (built-in default without a config file)",
        description="Run the daemon: follow the configured sources, label each line, run "
                    "the rules and deliver alerts to the sinks until SIGTERM or SIGINT "
                    "(SIGHUP reloads the configuration). Everything is validated before "
                    "anything is opened. Without a configuration file it runs on the "
                    "built-in default (the system's logs or journal, alerts to stdout).",
        epilog=EXIT_STATUSES, formatter_class=HelpFormatter)
    _add_config_option(run)
    run.add_argument("--stage", choices=("analyze", "detect", "both"),
                     help="Kafka scale-out: run only this stage (overrides topology.mode)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser(
        "demo", help="replay the bundled sample attacks and print the alerts",
        description="Replay the bundled sample attacks (an SSH brute force, a web scan, a "
                    "sudo abuse) through the shipped model and rule pack, print the alerts "
                    "they raise (text on a terminal, JSON lines otherwise) and exit. "
                    "Nothing is left on disk.",
        epilog=EXIT_STATUSES, formatter_class=HelpFormatter)
    demo.set_defaults(func=cmd_demo)

    analyze = sub.add_parser(
        "analyze", help="label log lines from files or stdin, like fail2ban-regex",
        description="Label log lines from files (stdin without files) the way the daemon "
                    "would, and print them as a table or JSON lines; with --alerts, run "
                    "the rules over them in event time.",
        epilog=EXIT_STATUSES, formatter_class=HelpFormatter)
    analyze.add_argument("files", nargs="*", type=Path, help="log files (`-` or none: stdin)")
    analyze.add_argument("--format", choices=("table", "jsonl"), default="table",
                         help="jsonl: one JSON object per input line (default: a table)")
    analyze.add_argument("--alerts", action="store_true",
                         help="also run detection; with --format jsonl, print only alerts")
    analyze.add_argument("--model", help="model folder (default: the shipped model)")
    analyze.add_argument("--no-model", action="store_true",
                         help="envelope parsing only, no labelling")
    analyze.add_argument("--rules", action="append", default=[], metavar="PATH",
                         help="rule file or folder for --alerts, loaded beside the shipped "
                              "pack (repeatable)")
    analyze.add_argument("--no-pack", action="store_true",
                         help="leave the shipped rule pack out (only --rules)")
    analyze.add_argument("--sigma", action="append", default=[], metavar="PATH",
                         help="Sigma rule file or folder to run too (repeatable; implies "
                              "--alerts)")
    analyze.add_argument("--reorder-window", type=_positive_int, metavar="EVENTS",
                         help="with --alerts: events held to put the inputs in time order "
                         "(default: 50000; memory grows with it, not with the input)")
    analyze.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                         help="analyzer processes the lines are split over (default: 1, "
                         "in this process)")
    analyze.set_defaults(func=cmd_analyze)

    check = sub.add_parser(
        "check-config", help="validate a configuration and print it",
        description="Validate the configuration as `run` would (schema, sink names, "
                    "secrets, rule files), warn about file paths that match nothing, and "
                    "print the effective configuration with every default filled in and "
                    "secrets redacted.",
        epilog=EXIT_STATUSES, formatter_class=HelpFormatter)
    _add_config_option(check)
    check.set_defaults(func=cmd_check_config)

    for module in PLUGIN_COMMANDS:
        try:
            register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = (
                import_module(module).register
            )
        except ImportError:
            continue
        register(sub)
    return parser


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help=f"configuration file (default: $LOGSENTRY_CONFIG, else {DEFAULT_CONFIG_PATH})",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `logsentry` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # One-shot commands keep stderr for problems; the daemon logs its progress.
    quiet = args.command in ("analyze", "check-config", "test-rules", "demo", "sigma")
    configure_logging(args.log_level or ("warning" if quiet else "info"),
                      args.log_format or "auto")
    try:
        status: int = args.func(args)
    except ConfigError as exc:
        print(f"logsentry: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except AnalyzerUnavailable as exc:
        print(f"logsentry: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`logsentry ... | head -1`): not an error.
        discard_output(sys.stdout.fileno())
        return 0
    return status


def _reconfigure_logging(args: argparse.Namespace, config: Config) -> None:
    level = "warning" if args.command == "demo" else config.logging.level
    configure_logging(args.log_level or level,
                      args.log_format or config.logging.format)


# -- run / demo ------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon on the configuration file, or on the built-in default."""
    from logsentry.daemon import Daemon
    from logsentry.defaults import (
        builtin_config,
        can_read_the_whole_journal,
        demo_config,
        describe_sources,
    )
    from logsentry.sources.config import JournaldSourceConfig

    path = resolve_path(args.config)
    explicit = bool(args.config or os.environ.get("LOGSENTRY_CONFIG"))
    config_path: Path | None
    if explicit or path.exists():
        config = load_config(path)
        config_path = path
    else:
        config = builtin_config()
        config_path = None
        if not config.sources:
            print("logsentry: no standard log file exists here (/var/log/auth.log, "
                  "/var/log/secure, /var/log/syslog, ...) and no journalctl: replaying the "
                  "bundled sample attacks instead (logsentry demo).", file=sys.stderr)
            config = demo_config()
            _reconfigure_logging(args, config)
            return _run_demo(config)
        print(f"logsentry: no configuration file at {DEFAULT_CONFIG_PATH}; following: "
              f"{describe_sources(config)}", file=sys.stderr)
        if (any(isinstance(s, JournaldSourceConfig) for s in config.sources)
                and not can_read_the_whole_journal()):
            print("logsentry: reading the whole journal needs root or the systemd-journal "
                  "or adm group; without them journalctl shows only this user's entries.",
                  file=sys.stderr)
    if args.stage:
        config = _with_stage(config, args.stage)
    _reconfigure_logging(args, config)
    return asyncio.run(Daemon(config, config_path).run())


def _with_stage(config: Config, stage: str) -> Config:
    """The configuration with `topology.mode` set from `--stage`."""
    from pydantic import ValidationError

    from logsentry.topology.config import TopologyConfig

    try:
        topology = TopologyConfig.model_validate(
            {**config.topology.model_dump(), "mode": stage})
    except ValidationError as exc:
        raise ConfigError(f"--stage {stage}: {exc.errors()[0]['msg']}") from None
    return config.model_copy(update={"topology": topology})


def cmd_demo(args: argparse.Namespace) -> int:
    """Replay the bundled sample attacks and print the alerts they raise."""
    from logsentry.defaults import demo_config

    config = demo_config()
    _reconfigure_logging(args, config)
    return _run_demo(config)


def _run_demo(config: Config) -> int:
    """Run a replay, then remove its throw-away state folder."""
    import shutil

    from logsentry.daemon import Daemon

    try:
        return asyncio.run(Daemon(config).run())
    finally:
        shutil.rmtree(config.state_dir, ignore_errors=True)


# -- check-config ------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the configuration and print it, secrets redacted."""
    import yaml

    path = resolve_path(args.config)
    config = load_config(path)
    from logsentry.assembly import check_components, source_problems

    detector = check_components(config, str(path))
    if detector is not None and detector.sigma is not None:
        from logsentry.detect.sigma.report import print_loaded

        # Fields a source adds to its events (Kafka's `fields`) are fields rules may read.
        known = {name for source in config.sources for name in getattr(source, "fields", {})}
        print_loaded(detector.sigma, sys.stderr, known)
    for problem in source_problems(config):
        print(f"# warning: {problem}", file=sys.stderr)
    print(f"# {path}: valid", file=sys.stderr)
    sys.stdout.write(yaml.safe_dump(redacted(config), sort_keys=False))
    return 0


# -- analyze -------------------------------------------------------------------------------


def cmd_analyze(args: argparse.Namespace) -> int:
    """Label lines from files or stdin; print a table, JSON lines, or alerts."""
    from logsentry.analyze import STDIN, run_analyze

    for file in args.files:
        if file != STDIN and not file.is_file():
            print(f"logsentry: {file}: not a readable file", file=sys.stderr)
            return EXIT_CONFIG
    return asyncio.run(run_analyze(
        files=args.files,
        fmt=args.format,
        alerts=args.alerts or bool(args.sigma),
        model=args.model,
        use_model=not args.no_model,
        rules=args.rules,
        sigma=args.sigma,
        pack=not args.no_pack,
        reorder_window=args.reorder_window,
        workers=args.workers,
    ))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
