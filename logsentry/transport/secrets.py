"""Resolving secret values of sink configuration.

One scheme for every secret (webhook URLs, tokens, HMAC keys, header values):
the value is either the literal secret, or a whole-value reference

- `${ENV:NAME}`: the environment variable NAME (must be set and non-empty);
- `${FILE:/path}`: the content of the file, trailing newline stripped
  (for systemd credentials, Kubernetes secrets, Docker secrets).

References are resolved when the sink starts, and checked once before that,
at start-up and on reload (`check_secrets`): a variable that is not set stops
the daemon at start (naming the key), not at its first alert. The value is
never printed: `check-config` shows `***`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, SecretStr

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


def check_secrets(node: object, key: str = "") -> None:
    """Resolve every secret in a configuration tree; SecretError names the key of the first
    one that cannot be (`sinks.0.webhook_url: environment variable ... is not set`)."""
    if isinstance(node, SecretStr):
        try:
            resolve_secret(node)
        except SecretError as exc:
            raise SecretError(f"{key}: {exc}") from None
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            check_secrets(getattr(node, name), f"{key}.{name}" if key else name)
    elif isinstance(node, list | tuple):
        for index, item in enumerate(node):
            check_secrets(item, f"{key}.{index}")
    elif isinstance(node, dict):
        for name, item in node.items():
            check_secrets(item, f"{key}.{name}")
