"""Evaluation figures: grouping accuracy, fail2ban offense/host metrics, CrowdSec fields."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from logsentry.core.analysis import Analysis
from logsentry.train.evaluation import evaluate, format_report, grouping_accuracy


def test_grouping_accuracy_counts_lines_whose_group_matches_exactly() -> None:
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy(["x", "x", "y", "y", "z"], truth) == 1.0
    # B split in two: its 2 lines are wrong; C merged into A's group: A and C wrong.
    assert grouping_accuracy(["x", "x", "y", "w", "z"], truth) == pytest.approx(3 / 5)
    assert grouping_accuracy(["x", "x", "y", "y", "x"], truth) == pytest.approx(2 / 5)


class RuleAnalyzer:
    """A transparent analyzer for testing the evaluation arithmetic."""

    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        out = []
        for message in messages:
            words = message.split()
            if "Failed" in words:
                ip = words[words.index("from") + 1]
                out.append(Analysis("ssh_login_failed", {"source.ip": ip}, "Failed <*>", 1.0))
            elif "GET" in message:
                out.append(Analysis("web_request", {"http.request.method": "GET",
                                                    "url.original": "/wrong"}, "GET", 1.0))
            else:
                out.append(Analysis("other", {}, " ".join(w for w in words if not w.isdigit()),
                                    1.0))
        return out


def write_datasets(root: Path) -> None:
    f2b = root / "fail2ban"
    f2b.mkdir(parents=True)
    rows = [
        {"family": "sshd", "line": "Failed password from 1.2.3.4", "match": True,
         "host": "1.2.3.4"},
        {"family": "sshd", "line": "Failed password from 5.6.7.8", "match": True,
         "host": "9.9.9.9"},
        {"family": "sshd", "line": "Accepted password", "match": False, "host": None},
        {"family": "other", "line": "Failed x from 2.2.2.2", "match": False, "host": None},
    ]
    (f2b / "sshd.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    (f2b / "other.jsonl").write_text(json.dumps(rows[3]) + "\n")
    cs = root / "crowdsec" / "nginx-logs"
    cs.mkdir(parents=True)
    event = {"line": "GET /index.html", "parsed": True,
             "meta": {"http_verb": "GET", "http_path": "/index.html"}}
    (cs / "expected.jsonl").write_text(json.dumps(event) + "\n")
    lh = root / "loghub" / "Tiny"
    lh.mkdir(parents=True)
    (lh / "Tiny_2k.log_structured.csv").write_text(
        "LineId,Content,EventId,EventTemplate\n"
        "1,open 1,E1,open <*>\n2,open 2,E1,open <*>\n3,close 3,E2,close <*>\n")


def test_evaluate_reports_every_dataset_on_all_and_held_out(tmp_path: Path) -> None:
    write_datasets(tmp_path)
    report = evaluate(RuleAnalyzer(), {"held_out": {"fail2ban:sshd", "loghub:Tiny"}},
                      tmp_path, envelope=False)
    held = report.fail2ban["held_out"]
    assert held["recall"] == 1.0 and held["fpr"] == 0.0
    assert held["host_accuracy"] == 0.5
    assert report.fail2ban["all"]["fpr"] == 0.5  # the "other" family's line is a false positive
    assert report.crowdsec["all"]["http.request.method"]["accuracy"] == 1.0
    assert report.crowdsec["all"]["url.original"]["accuracy"] == 0.0
    assert report.crowdsec["held_out"] == {"macro": {}}
    assert report.loghub["held_out"]["systems"] == {"loghub:Tiny": 1.0}
    text = format_report(report)
    assert "recall 1.0" in text and "GA average over systems 1.0" in text


def test_raw_lines_are_grouped_beside_the_content_column(tmp_path: Path) -> None:
    write_datasets(tmp_path)
    # The raw file: the same events behind a header whose numbers differ per line. The test
    # analyzer keeps words and drops numbers, so the level word that changes splits E1.
    (tmp_path / "loghub" / "Tiny" / "Tiny_2k.log").write_bytes(
        b"12 INFO open 1\r\n13 WARN open 2\n14 INFO close 3\n")
    report = evaluate(RuleAnalyzer(), {"held_out": {"loghub:Tiny"}}, tmp_path, envelope=False)
    assert report.loghub["held_out"]["average"] == 1.0
    assert report.loghub_raw["held_out"]["systems"] == {"loghub:Tiny": 0.3333}
    assert report.loghub_raw["all"]["average"] == pytest.approx(0.3333)
    assert "raw lines, average over systems 0.3333" in format_report(report)
    sealed = evaluate(RuleAnalyzer(), {"sealed": {"loghub:Tiny"}}, tmp_path, envelope=False)
    assert "Tiny" not in json.dumps(sealed.to_dict()) + format_report(sealed)
    assert sealed.loghub_raw["sealed"]["average"] == pytest.approx(0.3333)


def test_a_raw_file_of_other_lines_gives_no_raw_figure(tmp_path: Path) -> None:
    write_datasets(tmp_path)
    (tmp_path / "loghub" / "Tiny" / "Tiny_2k.log").write_text("only one line\n")
    report = evaluate(RuleAnalyzer(), {}, tmp_path, envelope=False)
    assert report.loghub["all"]["average"] == 1.0
    assert report.loghub_raw == {}


def test_macro_figures_weigh_every_family_alike(tmp_path: Path) -> None:
    write_datasets(tmp_path)
    report = evaluate(RuleAnalyzer(), {}, tmp_path, envelope=False)
    # Micro: 1 false positive in 2 negatives. Macro: sshd's fpr 0.0, other's 1.0.
    assert report.fail2ban["all"]["fpr"] == 0.5
    assert report.fail2ban["all"]["macro"]["fpr"] == 0.5
    # Micro host accuracy 0.5 over sshd's two lines; "other" has no host line: left out.
    assert report.fail2ban["all"]["macro"]["host_accuracy"] == 0.5
    assert report.crowdsec["all"]["macro"]["url.original.accuracy"] == 0.0


def test_a_sealed_report_shows_no_line_and_no_family(tmp_path: Path) -> None:
    write_datasets(tmp_path)
    sealed = {"fail2ban:sshd", "fail2ban:other", "loghub:Tiny", "crowdsec:nginx-logs"}
    report = evaluate(RuleAnalyzer(), {"sealed": sealed}, tmp_path, envelope=False)
    text = json.dumps(report.to_dict()) + format_report(report)
    for secret in ("Failed", "1.2.3.4", "sshd", "fail2ban:other", "Tiny", "nginx"):
        assert secret not in text
    assert "sealed_families" not in report.fail2ban
    assert report.fail2ban["sealed"]["recall"] == 1.0
    assert report.fail2ban["sealed"]["families"] == 2
    assert report.loghub["sealed"]["average"] == 1.0


def test_held_out_families_split_by_hash_into_validation_and_sealed_per_origin() -> None:
    from logsentry.train.data import splits

    assert splits.split_of("fail2ban:sshd") == "train"
    assert splits.VALIDATION | splits.SEALED == splits.HELD_OUT
    assert not splits.VALIDATION & splits.SEALED
    for origin in ("fail2ban", "crowdsec", "loghub"):
        val = sum(f.startswith(origin + ":") for f in splits.VALIDATION)
        sealed = sum(f.startswith(origin + ":") for f in splits.SEALED)
        assert val >= 1 and sealed >= 1 and abs(val - sealed) <= 1
    # The placement is a function of the names alone: the same on every run.
    assert splits._placement(splits.HELD_OUT) == splits._placement(frozenset(
        sorted(splits.HELD_OUT, reverse=True)))


def test_negatives_whose_text_is_a_match_in_another_mode_are_counted_apart() -> None:
    from logsentry.train.evaluation import Fail2banRecord, Labelled, fail2ban_figures

    line = "Disconnected (no auth attempts): rip=192.0.2.5"
    records = [
        Fail2banRecord("fail2ban:dovecot", line, True, "192.0.2.5"),   # aggressive mode
        Fail2banRecord("fail2ban:dovecot", line, False, None),         # normal mode
        Fail2banRecord("fail2ban:dovecot", "Login: user=<bob>", False, None),
    ]
    failed = Labelled("connection_rejected", {"source.ip": "192.0.2.5"}, "")
    results = [failed, failed, Labelled("login_success", {}, "")]
    figures = fail2ban_figures(records, results)
    assert figures["fpr"] == 0.5  # the twin negative is a false positive...
    assert figures["negatives_matched_elsewhere"] == 1
    assert figures["fpr_without_them"] == 0.0  # ...and the only one


def test_evaluate_skips_missing_datasets(tmp_path: Path) -> None:
    report = evaluate(RuleAnalyzer(), {}, tmp_path)
    assert report.fail2ban == {} and report.crowdsec == {} and report.loghub == {}


def test_model_cli_registers_train_and_eval() -> None:
    from logsentry.train.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["model", "eval", "--model", "/x", "--raw"])
    assert args.model == "/x" and args.raw and callable(args.func)
    assert args.split == "validation"
    assert parser.parse_args(["model", "eval", "--split", "sealed"]).split == "sealed"
    args = parser.parse_args(["model", "train", "--synthetic", "10", "--seed", "4"])
    assert args.synthetic == 10 and args.seed == 4 and callable(args.func)


def test_model_train_command_writes_a_loadable_model(tmp_path: Path) -> None:
    """The real `logsentry model train` on a tiny configuration (seconds)."""
    from logsentry.analysis.tagger import load_analyzer
    from logsentry.train.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "tiny-model"
    args = parser.parse_args([
        "model", "train", "--out", str(out), "--synthetic", "400", "--epochs", "1",
        "--hidden", "32", "--layers", "1", "--heads", "2", "--intermediate", "64",
        "--threads", "1", "--no-real", "--no-eval", "--vocab-words", "500"])
    assert args.func(args) == 0
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= {
        p.name for p in out.iterdir()}
    meta = json.loads((out / "config.json").read_text())["meta"]
    assert "dev_fp32" in meta and "quantize" not in meta
    results = load_analyzer(str(out), threads=1).analyze_batch(["Failed password for root"])
    assert len(results) == 1
