"""The fresh-values corpus: ssh200k as a real attack wave.

ssh200k is Loghub's OpenSSH_2k.log written 100 times over, so from the second copy on
every line has been seen before. Here each copy gets new client addresses (dotted, and
the dashed form inside reverse-DNS names), ports, pids and user names, consistently
within the copy (one attacker keeps its address over its lines), and the lines are
otherwise the same: same order, same timestamps, same messages. `root` stays `root`:
every wave tries it.

Writes `$BENCH_DATA/ssh200k-fresh.log` (200,000 lines) from the Loghub file that
../shared/bench/make_corpora.sh puts there. Deterministic for a given --seed.
Usage: python bench/make_fresh_values.py [--copies 100] [--seed 19] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

BENCH_DATA = Path(os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data"))
MAKE_CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "make_corpora.sh"
SOURCE = BENCH_DATA / "loghub" / "OpenSSH" / "OpenSSH_2k.log"

_IP = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# 187-141-143-180 in customer-187-141-143-180-sta.uninet-ide.com.mx, ec2-52-80-34-196...
_DASHED_IP = re.compile(r"(?<=[a-z0-9]-)(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(?=[-.])")
_PORT = re.compile(r"(?<=\bport )\d+")
_PID = re.compile(r"(?<=\[)\d+(?=\]:)")
# Where sshd and PAM name the account tried.
_USER = re.compile(
    r"(?:(?<=Failed password for invalid user )|(?<=Failed password for )"
    r"|(?<=Accepted password for )|(?<=Invalid user )|(?<=invalid user )"
    r"|(?<=\buser=)|(?<=session opened for user )|(?<=session closed for user ))"
    r"(?!invalid user )([^\s;]+)")
_SYLLABLES = ("ad", "an", "ba", "co", "de", "el", "fi", "ga", "hu", "in", "jo", "ka", "li",
              "ma", "ne", "or", "pa", "qu", "ri", "sa", "te", "ul", "vi", "wa", "xe", "yo")


class CopyValues:
    """One copy's replacements, each original value mapped to one new value."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.addresses: dict[str, str] = {}
        self.ports: dict[str, str] = {}
        self.pids: dict[str, str] = {}
        self.users: dict[str, str] = {"root": "root"}

    def _mapped(self, table: dict[str, str], old: str, make: Callable[[], str]) -> str:
        new = table.get(old)
        if new is None:
            taken = set(table.values())
            new = make()
            while new in taken:
                new = make()
            table[old] = new
        return new

    def address(self, old: str) -> str:
        def make() -> str:
            first = self.rng.choice([n for n in range(1, 224) if n not in (10, 127, 172, 192)])
            return ".".join(str(n) for n in (first, *(self.rng.randrange(256) for _ in range(2)),
                                             self.rng.randrange(1, 255)))
        return self._mapped(self.addresses, old, make)

    def port(self, old: str) -> str:
        return self._mapped(self.ports, old, lambda: str(self.rng.randrange(1024, 65536)))

    def pid(self, old: str) -> str:
        return self._mapped(self.pids, old, lambda: str(self.rng.randrange(1000, 4_194_304)))

    def user(self, old: str) -> str:
        def make() -> str:
            if old.isdigit():
                return str(self.rng.randrange(10 ** (len(old) - 1), 10 ** len(old)))
            name = "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(2, 4)))
            return name + (str(self.rng.randrange(100)) if self.rng.random() < 0.3 else "")
        return self._mapped(self.users, old, make)

    def rewrite(self, line: str) -> str:
        line = _IP.sub(lambda m: self.address(m.group(0)), line)
        line = _DASHED_IP.sub(
            lambda m: self.address(m.group(0).replace("-", ".")).replace(".", "-"), line)
        line = _PORT.sub(lambda m: self.port(m.group(0)), line)
        line = _PID.sub(lambda m: self.pid(m.group(0)), line)
        return _USER.sub(lambda m: self.user(m.group(1)), line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=BENCH_DATA / "ssh200k-fresh.log")
    args = parser.parse_args()
    if not args.source.exists():
        subprocess.run(["bash", str(MAKE_CORPORA)], check=True)
    lines = args.source.read_text(encoding="utf-8").splitlines(keepends=True)
    rng = random.Random(args.seed)
    with open(args.out, "w", encoding="utf-8") as out:
        for _ in range(args.copies):
            values = CopyValues(rng)
            out.writelines(values.rewrite(line) for line in lines)
    print(f"{args.out}: {len(lines) * args.copies:,} lines")


if __name__ == "__main__":
    main()
