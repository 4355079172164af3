"""The daemon as operators run it: a real process, real files, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml


def daemon_config(tmp: Path, sinks: list[dict[str, object]], **extra: object) -> dict[str, object]:
    config: dict[str, object] = {
        "state_dir": str(tmp / "state"),
        "sources": [{"type": "file", "name": "app", "paths": [str(tmp / "app.log")],
                     "start_at": "beginning", "poll_interval": 0.2}],
        "analysis": {"analyzer": "none"},
        "detection": {"enabled": False},
        "sinks": sinks,
        "pipeline": {"commit_interval": 0.2},
        "service": {"metrics": {"enabled": False}},
    }
    config.update(extra)
    return config


def events_sink(path: Path, name: str) -> dict[str, object]:
    return {"type": "jsonl", "name": name, "path": str(path), "routing": {"records": "events"}}


def write_config(path: Path, config: dict[str, object]) -> None:
    path.write_text(yaml.safe_dump(config))


def append(path: Path, start: int, count: int) -> None:
    with open(path, "a") as handle:
        handle.writelines(f"line {n}\n" for n in range(start, start + count))


def messages(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [orjson.loads(line)["message"] for line in path.read_bytes().splitlines()]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "logsentry.cli", "--log-format", "json", "run",
             "--config", str(config)],
            stdout=subprocess.PIPE, stderr=open(tmp_path / f"stderr{len(started)}", "wb"),  # noqa: SIM115
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_drains_commits_and_a_restart_resumes_exactly(
    tmp_path: Path, start_daemon: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    log, out, config = tmp_path / "app.log", tmp_path / "out.jsonl", tmp_path / "config.yaml"
    write_config(config, daemon_config(tmp_path, [events_sink(out, "out")]))
    append(log, 0, 20_000)
    daemon = start_daemon(config)
    wait_for(lambda: len(messages(out)) > 0)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    append(log, 20_000, 5_000)
    first_run = messages(out)
    daemon = start_daemon(config)
    wait_for(lambda: len(messages(out)) >= 25_000)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    assert messages(out) == [f"line {n}" for n in range(25_000)]
    assert len(first_run) >= 1


def test_sighup_reload_applies_the_new_configuration_without_loss(
    tmp_path: Path, start_daemon: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    log, config = tmp_path / "app.log", tmp_path / "config.yaml"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    write_config(config, daemon_config(tmp_path, [events_sink(first, "first")]))
    append(log, 0, 1000)
    daemon = start_daemon(config)
    wait_for(lambda: len(messages(first)) >= 1000)
    write_config(config, daemon_config(
        tmp_path, [events_sink(first, "first"), events_sink(second, "second")]))
    daemon.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    append(log, 1000, 1000)
    wait_for(lambda: len(messages(second)) >= 1000)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    assert messages(first) == [f"line {n}" for n in range(2000)]
    assert messages(second) == [f"line {n}" for n in range(1000, 2000)]


def test_sighup_with_a_broken_configuration_keeps_the_old_one_running(
    tmp_path: Path, start_daemon: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    log, out, config = tmp_path / "app.log", tmp_path / "out.jsonl", tmp_path / "config.yaml"
    write_config(config, daemon_config(tmp_path, [events_sink(out, "out")]))
    append(log, 0, 10)
    daemon = start_daemon(config)
    wait_for(lambda: len(messages(out)) >= 10)
    config.write_text("sources: [{type: file, paths: []}]\nbogus_key: 1\n")
    daemon.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    append(log, 10, 10)
    wait_for(lambda: len(messages(out)) >= 20)
    assert daemon.poll() is None
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    assert "reload_rejected" in (tmp_path / "stderr0").read_text()
    assert messages(out) == [f"line {n}" for n in range(20)]


UNSET_SECRET = "LOGSENTRY_TEST_UNSET_WEBHOOK_URL"


def webhook_sink(name: str) -> dict[str, object]:
    return {"type": "webhook", "name": name, "url": f"${{ENV:{UNSET_SECRET}}}"}


def test_sighup_with_an_unresolvable_secret_is_rejected_naming_the_key(
    tmp_path: Path, start_daemon: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    os.environ.pop(UNSET_SECRET, None)
    log, out, config = tmp_path / "app.log", tmp_path / "out.jsonl", tmp_path / "config.yaml"
    write_config(config, daemon_config(tmp_path, [events_sink(out, "out")]))
    append(log, 0, 10)
    daemon = start_daemon(config)
    wait_for(lambda: len(messages(out)) >= 10)
    write_config(config, daemon_config(tmp_path, [events_sink(out, "out"),
                                                  webhook_sink("siem")]))
    daemon.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    append(log, 10, 10)
    wait_for(lambda: len(messages(out)) >= 20)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    stderr = (tmp_path / "stderr0").read_text()
    rejected = [line for line in stderr.splitlines() if "reload_rejected" in line]
    assert rejected, stderr
    assert f"sinks.1.url: environment variable {UNSET_SECRET} is not set" in rejected[0]


@pytest.mark.parametrize("command", ["run", "check-config"])
def test_an_unresolvable_secret_stops_the_start_with_exit_2_naming_the_key(
    tmp_path: Path, command: str
) -> None:
    (tmp_path / "app.log").touch()
    write_config(tmp_path / "config.yaml",
                 daemon_config(tmp_path, [{"type": "stdout"}, webhook_sink("siem")]))
    env = {k: v for k, v in os.environ.items() if k != UNSET_SECRET}
    result = subprocess.run(
        [sys.executable, "-m", "logsentry.cli", command, "--config",
         str(tmp_path / "config.yaml")], capture_output=True, timeout=60, env=env)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert (f"config.yaml: sinks.1.url: environment variable {UNSET_SECRET} is not set"
            in stderr)
    assert "started" not in stderr


def log_records(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()
            if line.startswith(b"{")]


def test_a_start_where_no_source_can_read_anything_is_refused_naming_each_path(
    tmp_path: Path,
) -> None:
    config = daemon_config(tmp_path, [events_sink(tmp_path / "out.jsonl", "out")])
    config["sources"] = [
        {"type": "file", "name": "auth", "paths": [str(tmp_path / "auth.lgo"),
                                                   str(tmp_path / "nginx" / "*.log")]},
        {"type": "file", "name": "app", "paths": [str(tmp_path / "app.log")]},
    ]
    write_config(tmp_path / "config.yaml", config)
    result = run_cli("run", "--config", str(tmp_path / "config.yaml"))
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "no source can read anything" in stderr
    assert f"sources.0 (auth): {tmp_path / 'auth.lgo'}: matches no file" in stderr
    assert f"sources.0 (auth): {tmp_path / 'nginx' / '*.log'}: matches no file" in stderr
    assert f"sources.1 (app): {tmp_path / 'app.log'}: matches no file" in stderr
    assert "allow_missing" in stderr
    assert not (tmp_path / "state").exists()


def test_a_path_matching_nothing_is_warned_at_start_and_in_readyz(
    tmp_path: Path, start_daemon: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    import urllib.request

    log, out, config = tmp_path / "app.log", tmp_path / "out.jsonl", tmp_path / "config.yaml"
    settings = daemon_config(tmp_path, [events_sink(out, "out")],
                             service={"metrics": {"enabled": True, "port": 0}})
    typo = str(tmp_path / "auth.lgo")
    settings["sources"] = [{"type": "file", "name": "app", "paths": [str(log), typo],
                            "start_at": "beginning", "poll_interval": 0.2}]
    write_config(config, settings)
    append(log, 0, 5)
    daemon = start_daemon(config)
    wait_for(lambda: len(messages(out)) >= 5)
    records = log_records(tmp_path / "stderr0")
    warned = [r for r in records if r.get("event") == "source_path_unmatched"]
    assert [(r["source"], r["path"]) for r in warned] == [("app", typo)]
    url = next(r["url"] for r in records if r.get("event") == "monitoring_listening")
    with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
        body = response.read().decode()
    assert body == f"ready\nwarning: sources.0 (app): {typo}: matches no file\n"
    # The file appears: the warning goes.
    Path(typo).touch()
    with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
        assert response.read().decode() == "ready\n"
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0


def test_allow_missing_starts_and_reads_the_file_once_it_appears(
    tmp_path: Path, start_daemon: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    log, out, config = tmp_path / "app.log", tmp_path / "out.jsonl", tmp_path / "config.yaml"
    settings = daemon_config(tmp_path, [events_sink(out, "out")])
    settings["sources"][0]["allow_missing"] = True  # type: ignore[index]
    write_config(config, settings)
    daemon = start_daemon(config)
    wait_for(lambda: any(r.get("event") == "started"
                         for r in log_records(tmp_path / "stderr0")))
    append(log, 0, 5)
    wait_for(lambda: len(messages(out)) >= 5)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    records = log_records(tmp_path / "stderr0")
    assert any(r.get("event") == "source_path_waiting" and r["path"] == str(log)
               for r in records)


def run_cli(*args: str, env: dict[str, str] | None = None,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "logsentry.cli", *args], capture_output=True,
                          input=stdin, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - type: file\n    paths: [/x]\n    colour: red\n",
         "config.yaml:4: sources.0.colour: unknown key"),
        ("pipeline:\n  queue_batches: many\n",
         "config.yaml:2: pipeline.queue_batches: Input should be a valid integer"),
        ("sinks:\n  - type: carrier-pigeon\n", "sinks.0"),
        ("sources: [\n", "invalid YAML"),
    ],
)
def test_configuration_errors_name_the_key_and_line_and_exit_2(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 2
    assert expected in result.stderr.decode()


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("state_dir: /var/lib/x\n  sources: []\n")
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert f"{config}:2:10: invalid YAML: mapping values are not allowed here" in stderr
    assert "<unicode string>" not in stderr


def test_run_validates_the_rules_before_opening_the_metrics_listener(tmp_path: Path) -> None:
    import socket

    # The port is taken: had run opened the listener first, it would fail on
    # the port (exit 1) rather than on the rules (exit 2).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = daemon_config(tmp_path, [events_sink(tmp_path / "out.jsonl", "out")],
                               detection={"extra_rules": [str(tmp_path / "no-such-rules")]},
                               service={"metrics": {"enabled": True, "port": port}})
        (tmp_path / "app.log").touch()
        write_config(tmp_path / "config.yaml", config)
        result = run_cli("run", "--config", str(tmp_path / "config.yaml"))
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "no-such-rules: rule file or folder not found" in stderr
    assert "cannot serve /metrics" not in stderr
    assert not (tmp_path / "state" / "spool").exists()


@pytest.mark.parametrize("command", ["run", "demo"])
def test_run_and_demo_help_describe_the_command_and_list_exit_statuses(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    description = text.split("\n\n")[1]
    assert description.startswith({"run": "Run the daemon", "demo": "Replay the bundled"}[command])
    assert "exit statuses:" in text and "  2    configuration or usage error" in text


def test_repeatable_options_say_so_in_help() -> None:
    text = " ".join(run_cli("analyze", "--help").stdout.decode().split())
    assert "--rules PATH rule file or folder for --alerts, loaded beside the shipped pack " \
           "(repeatable)" in text


def test_missing_configuration_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("run", env={"LOGSENTRY_CONFIG": str(tmp_path / "nope.yaml")})
    assert result.returncode == 2
    assert "nope.yaml: configuration file not found" in result.stderr.decode()


def test_bad_rule_regex_is_a_configuration_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: bad-regex\n    title: Bad\n    severity: low\n"
        "    select:\n      fields:\n        message: {regex: '(unclosed'}\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text(f"detection:\n  extra_rules: [{rules}]\n")
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 2
    assert "bad-regex" in result.stderr.decode()


def test_detection_rules_without_an_explicit_pack_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"detection:\n  rules: [{tmp_path}]\n")
    result = run_cli("check-config", "--config", str(config))
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "config.yaml:1: detection:" in stderr
    assert "extra_rules" in stderr and "pack: none" in stderr


def test_run_says_which_rules_it_loaded(
    tmp_path: Path, start_daemon: Callable[[Path], subprocess.Popen[bytes]]
) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("id: my.rule\ntitle: Mine\nseverity: low\nsummary: x\n"
                    "select: {action: ssh_login_failed}\n")
    config = tmp_path / "config.yaml"
    write_config(config, daemon_config(tmp_path, [events_sink(tmp_path / "out.jsonl", "out")],
                                       detection={"extra_rules": [str(mine)]}))
    append(tmp_path / "app.log", 0, 1)
    daemon = start_daemon(config)
    wait_for(lambda: any(r.get("event") == "started"
                         for r in log_records(tmp_path / "stderr0")), timeout=60)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0
    loaded = [r for r in log_records(tmp_path / "stderr0") if r.get("event") == "rules_loaded"]
    assert len(loaded) == 1
    text = str(loaded[0]["loaded"])
    assert text.startswith("pack ") and text.endswith(f", {mine} (1 rule)")
    assert int(str(loaded[0]["rules"])) > 40


def test_check_config_prints_the_effective_configuration_with_secrets_redacted(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "sinks:\n  - type: slack\n    webhook_url: https://hooks.slack.com/services/T0/B0/s3cr3t\n"
    )
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 0, result.stderr.decode()
    printed = yaml.safe_load(result.stdout)
    assert printed["sinks"][0]["webhook_url"] == "***"
    assert "s3cr3t" not in result.stdout.decode()
    assert printed["pipeline"]["queue_batches"] == 16  # defaults are shown too


def test_analyze_jsonl_writes_one_object_per_input_line_in_order() -> None:
    lines = [
        b"Jan  5 10:00:01 web-1 sshd[123]: Failed password for root from 1.2.3.4 port 22 ssh2",
        b"\xff\xfe\x00 garbage",
        b"",
        b'203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 404 12 "-" "x"',
    ]
    result = run_cli("analyze", "--no-model", "--format", "jsonl",
                     stdin=b"\n".join(lines) + b"\n")
    assert result.returncode == 0, result.stderr.decode()
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [doc["line"] for doc in docs] == [1, 2, 3, 4]
    assert docs[0]["host"] == {"name": "web-1"}
    assert docs[0]["process"] == {"name": "sshd", "pid": 123}
    assert docs[0]["@timestamp"].endswith("T10:00:01+00:00") or "T10:00:01" in docs[0]["@timestamp"]
    assert docs[1]["message"] == "\ufffd\ufffd\ufffd garbage"
    assert "@timestamp" not in docs[2]
    assert docs[3]["source"] == {"ip": "203.0.113.9"}
    assert docs[3]["http"] == {"request": {"method": "GET"}, "response": {"status_code": 404},
                               "version": "1.1"}
    for doc in docs:
        assert set(doc["event"]) == {"category", "type", "outcome", "action"}
        assert set(doc["logsentry"]) == {"template", "summary", "confidence"}


def test_analyze_reads_stdin_where_a_file_argument_is_a_dash(tmp_path: Path) -> None:
    first = tmp_path / "first.log"
    first.write_bytes(b"Jan  5 10:00:01 web-1 sshd[123]: Accepted publickey for ops\n")
    result = run_cli("analyze", "--no-model", "--format", "jsonl", str(first), "-",
                     stdin=b"Jan  5 10:00:02 web-2 cron[9]: (root) CMD (true)\n")
    assert result.returncode == 0, result.stderr.decode()
    hosts = [orjson.loads(line)["host"]["name"] for line in result.stdout.splitlines()]
    assert hosts == ["web-1", "web-2"]


def test_a_taken_metrics_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = daemon_config(tmp_path, [events_sink(tmp_path / "out.jsonl", "out")],
                               service={"metrics": {"enabled": True, "port": port}})
        write_config(tmp_path / "config.yaml", config)
        (tmp_path / "app.log").touch()
        result = run_cli("run", "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 1
    assert "cannot serve /metrics" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_run_stage_without_brokers_is_a_configuration_error(tmp_path: Path) -> None:
    write_config(tmp_path / "config.yaml", daemon_config(tmp_path, []))
    result = run_cli("run", "--stage", "detect", "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 2
    assert "needs bootstrap_servers" in result.stderr.decode()
