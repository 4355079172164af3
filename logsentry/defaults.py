"""The built-in default configuration and the bundled demo."""

from __future__ import annotations

import grp
import os
import shutil
import tempfile
from pathlib import Path

from logsentry.config import DEFAULT_STATE_DIR, Config
from logsentry.sources.config import FileSourceConfig, JournaldSourceConfig, SourceConfig

# Where sshd, sudo and su log on a server with a syslog daemon (Debian/Ubuntu,
# RHEL family). Without one of them (Debian 12 and recent Ubuntu install no
# rsyslog) those lines are only in the journal.
AUTH_LOGS: tuple[str, ...] = ("/var/log/auth.log", "/var/log/secure")

# The logs a Debian/Ubuntu or RHEL-family server writes, where they exist.
STANDARD_LOGS: tuple[str, ...] = (
    *AUTH_LOGS,
    "/var/log/syslog",
    "/var/log/messages",
    "/var/log/nginx/access.log",
    "/var/log/apache2/access.log",
    "/var/log/httpd/access_log",
)

SAMPLES_DIR = Path(__file__).parent / "samples"


JOURNAL_GROUPS = ("systemd-journal", "adm")


def builtin_config() -> Config:
    """Follow the standard logs that exist, and the journal where the auth logs do not;
    print alerts to stdout."""
    existing = [path for path in STANDARD_LOGS if os.path.isfile(path)]
    sources: list[SourceConfig] = (
        [FileSourceConfig(name="system-logs", paths=existing)] if existing else []
    )
    if not any(path in existing for path in AUTH_LOGS) and shutil.which("journalctl"):
        # From its end on the first start, then from the stored cursor.
        sources.append(JournaldSourceConfig(name="journal", start_at="end"))
    return Config(state_dir=_state_dir(), sources=sources)


def can_read_the_whole_journal() -> bool:
    """Root, or a member of a group journalctl lets read every entry; without that it
    shows only the user's own entries (sshd and sudo are not among them)."""
    if os.geteuid() == 0:
        return True
    groups = set(os.getgroups()) | {os.getegid()}
    for name in JOURNAL_GROUPS:
        try:
            if grp.getgrnam(name).gr_gid in groups:
                return True
        except KeyError:
            continue
    return False


def describe_sources(config: Config) -> str:
    """What the built-in default reads, for the line it prints at start."""
    parts = []
    for source in config.sources:
        if isinstance(source, FileSourceConfig):
            parts.append(", ".join(source.paths))
        elif isinstance(source, JournaldSourceConfig):
            parts.append(f"the systemd journal (from its end, then from the cursor in "
                         f"{config.state_dir})")
    return "; ".join(parts)


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
