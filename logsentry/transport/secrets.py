"""Resolving secret values of sink configuration.

One scheme for every secret (webhook URLs, tokens, HMAC keys, header values):
the value is either the literal secret, or a whole-value reference

- `${ENV:NAME}`: the environment variable NAME (must be set and non-empty);
- `${FILE:/path}`: the content of the file, trailing newline stripped
  (for systemd credentials, Kubernetes secrets, Docker secrets).

References are resolved when the sink is built, not when the configuration is
parsed, so `check-config` never reads or prints the secret itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import SecretStr

from logsentry.core.errors import SecretError

_REFERENCE = re.compile(r"^\$\{(ENV|FILE):([^}]+)\}$")


def resolve_secret(value: SecretStr | str) -> str:
    """The secret behind `value`, following an `${ENV:...}` or `${FILE:...}` reference."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    match = _REFERENCE.match(raw.strip())
    if match is None:
        return raw
    kind, target = match.groups()
    if kind == "ENV":
        resolved = os.environ.get(target, "")
        if not resolved:
            raise SecretError(f"environment variable {target} is not set or empty")
        return resolved
    try:
        resolved = Path(target).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SecretError(f"cannot read secret file {target}: {exc.strerror}") from None
    if not resolved:
        raise SecretError(f"secret file {target} is empty")
    return resolved
