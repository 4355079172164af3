"""The fresh-values corpus: ssh200k as a real attack wave.

ssh200k repeats Loghub's OpenSSH_2k.log 100 times, so from the second copy on every line
was seen before and the analyzer's exact-text cache answers it. A real wave brings new
client addresses, source ports, sshd pids and tried user names all the time; this writes
the same 2,000 lines 100 times with each of those values replaced per copy (deterministic
for a seed), so every copy holds the same events with values never seen before.

    .venv/bin/python bench/fresh_values.py /tmp/logsentry-bench-data/ssh200k.log out.log

Only IPv4 addresses, `port N`, `sshd[pid]` and user names after `user `, `for `,
`user=` change; `root` stays (attackers always try it). New user names are letters only
in four cases of five: digits would let the structure cache (which masks digit runs)
answer them.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

COPIES = 100
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w])")
_PORT = re.compile(r"(?<=\bport )\d+")
_PID = re.compile(r"(?<=\[)\d+(?=\]:)")
# `invalid user X`, `Invalid user X`, `password for X`, `user=X`, `for user X`.
_USER = re.compile(r"(?:(?<=[Ii]nvalid user )|(?<=password for )|(?<=user=)|(?<=for user ))"
                   r"(?!invalid\b)[^\s\[\]]+")
_SYLLABLES = ("ka", "lo", "mi", "ne", "tor", "vi", "san", "der", "ul", "pe", "ro", "ga",
              "bu", "sh", "in", "ox", "ja", "ter", "mon", "qi", "zel", "an", "dra", "fe")


def fresh_copies(lines: list[str], copies: int = COPIES, seed: int = 19) -> Iterator[str]:
    """`lines` `copies` times, each copy with its own addresses, ports, pids and users."""
    rng = random.Random(seed)
    for _ in range(copies):
        addresses: dict[str, str] = {}
        users: dict[str, str] = {"root": "root"}
        pids: dict[str, str] = {}

        def address(match: re.Match[str], addresses: dict[str, str] = addresses) -> str:
            old = match[0]
            new = addresses.get(old)
            if new is None:
                new = ".".join(str(rng.randint(1, 254)) for _ in range(4))
                addresses[old] = new
            return new

        def user(match: re.Match[str], users: dict[str, str] = users) -> str:
            old = match[0]
            new = users.get(old)
            if new is None:
                new = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4)))
                if rng.random() < 0.2:
                    new += str(rng.randint(1, 999))
                users[old] = new
            return new

        def pid(match: re.Match[str], pids: dict[str, str] = pids) -> str:
            old = match[0]
            new = pids.get(old)
            if new is None:
                new = str(rng.randint(1000, 99999))
                pids[old] = new
            return new

        for line in lines:
            line = _IPV4.sub(address, line)
            line = _PORT.sub(lambda _: str(rng.randint(1024, 65535)), line)
            line = _PID.sub(pid, line)
            yield _USER.sub(user, line)


def write_fresh(source: Path, target: Path, copies: int = COPIES) -> int:
    """Write the fresh-values corpus of one copy of `source` (its first 1/`copies` lines,
    or the whole file when it is not a repetition); the number of lines written."""
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    if len(lines) % copies == 0 and lines[: len(lines) // copies] * copies == lines:
        lines = lines[: len(lines) // copies]
    written = 0
    with target.open("w", encoding="utf-8") as out:
        for line in fresh_copies(lines, copies):
            out.write(line + "\n")
            written += 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="ssh200k.log (or one copy of it)")
    parser.add_argument("target", type=Path)
    parser.add_argument("--copies", type=int, default=COPIES)
    args = parser.parse_args()
    count = write_fresh(args.source, args.target, args.copies)
    print(f"{count:,} lines -> {args.target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
