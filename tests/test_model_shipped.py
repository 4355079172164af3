"""The shipped model loads offline from models/ and labels the classic lines right."""

from __future__ import annotations

import pytest

from logsentry.analysis.tagger import load_analyzer
from logsentry.analysis.tagger.inference import ModelAnalyzer
from logsentry.analysis.tagger.location import default_model_dir, files_size


@pytest.fixture(scope="module")
def analyzer() -> ModelAnalyzer:
    return load_analyzer(threads=1, cache_size=1000)


def test_shipped_model_is_small(analyzer: ModelAnalyzer) -> None:
    assert files_size(default_model_dir()) <= 30_000_000  # the budget for a server's package


def test_ssh_failure_is_an_offense_with_exact_fields(analyzer: ModelAnalyzer) -> None:
    line = "Failed password for invalid user admin from 203.0.113.9 port 52311 ssh2"
    result = analyzer.analyze_batch([line])[0]
    assert result.action == "ssh_login_failed" and result.outcome == "failure"
    assert result.fields["source.ip"] == "203.0.113.9"
    assert result.fields["user.name"] == "admin"
    # Pieces holding digits are template wildcards (as Drain masks them): "ssh2" joins the
    # port's.
    assert result.template == "Failed password for invalid user <*> from <*> port <*>"
    assert 0.5 < result.confidence <= 1.0


def test_access_log_line_yields_http_fields(analyzer: ModelAnalyzer) -> None:
    line = ('203.0.113.5 - - [10/Oct/2024:13:55:36 +0000] "GET /wp-login.php HTTP/1.1" 404 153'
            ' "-" "curl/8.5.0"')
    result = analyzer.analyze_batch([line])[0]
    assert result.fields["source.ip"] == "203.0.113.5"
    assert result.fields["http.request.method"] == "GET"
    assert result.fields["url.original"] == "/wp-login.php"
    assert result.fields["http.response.status_code"] == "404"


def test_model_dir_can_come_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = default_model_dir()
    monkeypatch.setenv("LOGSENTRY_MODEL_DIR", str(shipped.parent))
    assert default_model_dir() == shipped
