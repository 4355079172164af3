"""A throwaway self-signed certificate for loopback TLS, made with `openssl`."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SelfSignedCert:
    cert: Path
    key: Path
    hostname: str = "localhost"


def make_self_signed(directory: Path, hostname: str = "localhost") -> SelfSignedCert:
    """A 2048-bit RSA certificate for `hostname` and 127.0.0.1, valid one day."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={hostname}",
         "-addext", f"subjectAltName=DNS:{hostname},IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return SelfSignedCert(cert, key, hostname)
