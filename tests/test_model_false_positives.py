"""`logsentry model false-positives`: training families' negatives read as offenses, and
never a line of a held-out family."""

from __future__ import annotations

import pytest

from logsentry.core.analysis import Analysis
from logsentry.train.data.splits import SEALED, VALIDATION
from logsentry.train.evaluation import Fail2banRecord
from logsentry.train.false_positives import (
    HeldOutFamilyError,
    format_false_positives,
    training_false_positives,
    training_only,
)

TRAIN = "fail2ban:sshd"
VALID = sorted(f for f in VALIDATION if f.startswith("fail2ban:"))[0]
SEAL = sorted(f for f in SEALED if f.startswith("fail2ban:"))[0]


class WordAnalyzer:
    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        return [Analysis("ssh_login_failed" if "Failed" in m else "other", {}, m, 1.0)
                for m in messages]


def records() -> list[Fail2banRecord]:
    return [
        Fail2banRecord(TRAIN, "Failed password for root from 192.0.2.1 port 22 ssh2", True,
                       "192.0.2.1"),
        Fail2banRecord(TRAIN, "Failed publickey for git from 192.0.2.2 port 22 ssh2", False, None),
        Fail2banRecord(TRAIN, "Connection from 192.0.2.3 port 22", False, None),
        Fail2banRecord(VALID, "Failed held-out validation line", False, None),
        Fail2banRecord(SEAL, "Failed held-out sealed line", False, None),
    ]


def test_only_training_negatives_are_counted_and_shown() -> None:
    found = training_false_positives(WordAnalyzer(), records(), envelope=False)
    assert found.negatives == 2
    assert [item.line for item in found.flagged] == [records()[1].line]
    shown = format_false_positives(found)
    assert "held-out" not in shown
    assert VALID not in shown and SEAL not in shown
    assert "1 of 2" in shown


@pytest.mark.parametrize("family", [VALID, SEAL])
def test_asking_for_a_held_out_family_is_refused(family: str) -> None:
    with pytest.raises(HeldOutFamilyError):
        training_only(records(), [family])
