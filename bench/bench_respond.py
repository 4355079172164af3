"""Active response figures: the bouncer API with many decisions, and line-to-firewall latency.

    .venv/bin/python bench/bench_respond.py                 # API figures (any machine)
    .venv/bin/python bench/bench_respond.py --nftables      # + latency through nft (root)

- `startup=true` answer time and memory with 10,000 active decisions (in-process
  store and API on loopback, a real HTTP client);
- with `--nftables`: `logsentry run` with the built-in responder on a private network
  namespace's nftables; the time from the line that completes an SSH brute force
  being written to the address being in the set (polling `nft` every 5 ms);
- with `--kill-wave N`: a ban wave of N attackers (6 failed logins each, interleaved)
  written while `logsentry run` is SIGKILLed at 5 random moments and restarted; then
  the attackers without a decision are counted (the target is none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from logsentry.respond.bouncer_keys import BouncerKeys  # noqa: E402
from logsentry.respond.config import LapiConfig  # noqa: E402
from logsentry.respond.decision import Decision, decision_uuid  # noqa: E402
from logsentry.respond.lapi import LapiServer  # noqa: E402
from logsentry.respond.store import DecisionStore  # noqa: E402


async def api_figures(count: int) -> dict[str, float]:
    import aiohttp

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        now = time.time()
        tracemalloc.start()
        store = DecisionStore.open(folder / "decisions", now)
        decisions = [Decision(decision_uuid(str(i)), f"10.{i >> 16 & 255}.{i >> 8 & 255}."
                              f"{i & 255}", "ban", "logsentry", "ssh.brute-force", now,
                              now + 3600) for i in range(count)]
        started = time.perf_counter()
        store.add(decisions, now)
        stored_s = time.perf_counter() - started
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        key = BouncerKeys(folder / "bouncers.json").add("bench")
        server = LapiServer(LapiConfig(port=0), store, time.time, folder / "bouncers.json")
        await server.start()
        url = f"http://127.0.0.1:{server.port}/v1/decisions/stream?startup=true"
        times = []
        async with aiohttp.ClientSession(headers={"X-Api-Key": key}) as http:
            for _ in range(7):
                started = time.perf_counter()
                async with http.get(url) as response:
                    body = await response.read()
                times.append(time.perf_counter() - started)
        await server.close()
        assert len(json.loads(body)["new"]) == count
        return {"decisions": count, "startup_ms_median": round(statistics.median(times) * 1000, 1),
                "startup_ms_max": round(max(times) * 1000, 1),
                "store_mb": round(memory / 1e6, 1), "store_write_s": round(stored_s, 3),
                "body_kb": round(len(body) / 1024)}


def nft_latency(runs: int) -> dict[str, object]:
    """Line written -> address in the nftables set, through `logsentry run`."""
    name = "lsbench"
    subprocess.run(["ip", "netns", "add", name], check=True)
    latencies = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            wrapper = folder / "nft"
            wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {name} nft "$@"\n')
            wrapper.chmod(0o755)
            log, config = _daemon_files(folder, f"""
respond: {{enabled: true, lapi: {{enabled: false}}, nftables: {{enabled: true, nft: {wrapper}}}}}
""")
            daemon = subprocess.Popen(
                [sys.executable, "-m", "logsentry.cli", "run", "--config", str(config)],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _until(lambda: bool(_elements(name)) or _table(name), 120)
                for run in range(runs):
                    ip = f"203.0.113.{run + 1}"
                    head = "".join(_failed(ip, i) for i in range(4))
                    with log.open("a") as handle:
                        handle.write(head)
                    time.sleep(0.5)
                    with log.open("a") as handle:
                        started = time.perf_counter()
                        handle.write(_failed(ip, 4))
                    _until(lambda ip=ip: ip in _elements(name), 10)
                    latencies.append((time.perf_counter() - started) * 1000)
            finally:
                daemon.terminate()
                daemon.wait(30)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
    return {"runs": runs, "ms_median": round(statistics.median(latencies), 1),
            "ms_max": round(max(latencies), 1)}


def kill_wave(attackers: int, kills: int, seed: int) -> dict[str, object]:
    """Decisions taken for a ban wave across SIGKILLs of the daemon."""
    import random
    import signal

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log, config = _daemon_files(folder, """
detection: {persist_interval: 1}
respond: {enabled: true, duration: 1h, lapi: {enabled: false}}
""")
        ips = [f"203.0.{i // 200}.{i % 200 + 1}" for i in range(attackers)]
        lines = [(ip, n) for n in range(6) for ip in ips]  # interleaved waves
        command = [sys.executable, "-m", "logsentry.cli", "run", "--config", str(config)]

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)

        daemon = start()
        kill_at = sorted(rng.sample(range(len(lines)), kills))
        for index, (ip, n) in enumerate(lines):
            with log.open("a") as handle:
                handle.write(_failed(ip, n))
            time.sleep(0.02)
            if kill_at and index == kill_at[0]:
                kill_at.pop(0)
                time.sleep(rng.uniform(0.0, 2.0))
                daemon.send_signal(signal.SIGKILL)
                daemon.wait(30)
                daemon = start()
        decided: set[str] = set()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(decided) < attackers:
            time.sleep(2)
            listed = subprocess.run([*command[:3], "decisions", "list", "--json", "--config",
                                     str(config)], cwd=REPO, capture_output=True, text=True,
                                    check=False)
            decided = {json.loads(line)["value"] for line in listed.stdout.splitlines()}
        daemon.terminate()
        daemon.wait(60)
    return {"attackers": attackers, "kills": kills, "seed": seed,
            "without_decision": len(set(ips) - decided)}


def _daemon_files(folder: Path, extra: str) -> tuple[Path, Path]:
    """An empty auth.log and a configuration that follows it, alerts to a JSONL file,
    plus `extra` (YAML)."""
    log = folder / "auth.log"
    log.touch()
    config = folder / "config.yaml"
    config.write_text(f"""
state_dir: {folder}/state
sources: [{{type: file, paths: [{log}], start_at: beginning}}]
sinks: [{{type: jsonl, path: {folder}/alerts.jsonl}}]
service: {{metrics: {{port: 0}}}}
{extra}""")
    return log, config


def _failed(ip: str, i: int) -> str:
    return (f"Dec  7 10:00:{i:02d} web1 sshd[{4000 + i}]: Failed password for root from {ip}"
            f" port {40000 + i} ssh2\n")


def _table(netns: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                           "logsentry"], capture_output=True, check=False).returncode == 0


def _elements(netns: str) -> str:
    listed = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "set", "inet",
                             "logsentry", "blocked4"], capture_output=True, text=True,
                            check=False)
    return listed.stdout if listed.returncode == 0 else ""


def _until(predicate: object, timeout: float) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.005)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--nftables", action="store_true",
                        help="also measure line-to-set latency (root, network namespaces)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kill-wave", type=int, metavar="ATTACKERS",
                        help="a ban wave of this many attackers across 5 SIGKILLs")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.kill_wave:
        print(json.dumps({"kill_wave": kill_wave(args.kill_wave, 5, args.seed)}))
        return 0
    print(json.dumps({"api": asyncio.run(api_figures(args.decisions))}))
    if args.nftables:
        print(json.dumps({"nftables": nft_latency(args.runs)}))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench_peak_rss_mb": round(peak)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
