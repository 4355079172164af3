"""The built-in default configuration and the bundled demo."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from logsentry.config import DEFAULT_STATE_DIR, Config
from logsentry.sources.config import FileSourceConfig, SourceConfig

# The logs a Debian/Ubuntu or RHEL-family server writes, where they exist.
STANDARD_LOGS: tuple[str, ...] = (
    "/var/log/auth.log",
    "/var/log/secure",
    "/var/log/syslog",
    "/var/log/messages",
    "/var/log/nginx/access.log",
    "/var/log/apache2/access.log",
    "/var/log/httpd/access_log",
)

SAMPLES_DIR = Path(__file__).parent / "samples"


def builtin_config() -> Config:
    """Follow the standard logs that exist and print alerts to stdout."""
    existing = [path for path in STANDARD_LOGS if os.path.isfile(path)]
    sources: list[SourceConfig] = (
        [FileSourceConfig(name="system-logs", paths=existing)] if existing else []
    )
    return Config(state_dir=_state_dir(), sources=sources)


def demo_config() -> Config:
    """Replay the bundled sample attacks once, from the beginning, into stdout."""
    samples = sorted(str(path) for path in SAMPLES_DIR.glob("*.log"))
    source = FileSourceConfig(name="demo", paths=samples, start_at="beginning", follow=False)
    # A throw-away state folder: a demo must not leave positions behind that
    # would make the next demo start at the end of the samples.
    state_dir = Path(tempfile.mkdtemp(prefix="logsentry-demo-"))
    return Config.model_validate(
        {"state_dir": state_dir, "sources": [source], "service": {"metrics": {"enabled": False}}}
    )


def _state_dir() -> Path:
    """The system state folder when writable (root, systemd), else the user's."""
    target = DEFAULT_STATE_DIR
    if os.access(target, os.W_OK) or (not target.exists() and os.access(target.parent, os.W_OK)):
        return target
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "logsentry"
