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
from typing import Annotated

from pydantic import AfterValidator, BaseModel, SecretStr

from logsentry.core.errors import SecretError
from logsentry.transport.urls import check_http_url

_REFERENCE = re.compile(r"^\$\{(ENV|FILE):([^}]+)\}$")


class SecretUrl(SecretStr):
    """A secret that holds an http(s) URL (a Slack webhook's URL carries its token)."""


def _literal_url(value: SecretUrl) -> SecretUrl:
    """Check a literal URL when the configuration is loaded; a reference is checked once
    resolved (`check_secrets`)."""
    raw = value.get_secret_value()
    if _REFERENCE.match(raw.strip()) is None:
        check_http_url(raw)
    return value


HttpUrlSecret = Annotated[SecretUrl, AfterValidator(_literal_url)]
"""A configuration secret that must be an http(s) URL, literally or once resolved."""


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
    one that cannot be (`sinks.0.webhook_url: environment variable ... is not set`), or
    whose value is not the URL it must be."""
    if isinstance(node, SecretStr):
        try:
            resolved = resolve_secret(node)
            if isinstance(node, SecretUrl):
                check_http_url(resolved)
        except (SecretError, ValueError) as exc:
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
