"""The student: the shipped `LogTagger` architecture, trained with or without the teacher.

With the teacher (`TrainSettings.use_teacher`), the loss is the student's hard
loss (`training.batch_loss`) on the labelled lines plus, on labelled and
unlabelled lines alike, `kd_weight * KL(teacher_T || student_T) * T^2` over the
line distribution and over the token distributions of the pieces the teacher
saw that `token_kd` selects. Teacher and student agree on units: the teacher's
logits are already per student piece (`alignment`).

Which pieces learn from the teacher (`token_kd`) matters because a CPU-trained
teacher is not better than its student everywhere: its WordPiece view cuts
addresses and paths into sub-tokens and its window ends at 64 tokens, so it is
a weaker entity extractor than the student trained on the labels, while it is
the better judge of a whole line (the action). `all` follows the teacher on
every piece it saw; `agree` only where its top tag is the hard label (on
labelled lines) or its top tag is at least `kd_confidence` likely (on
unlabelled lines); `confident` only where its top tag is that likely; `none`
keeps token learning on the hard labels and distils the line head alone.

Without the teacher (the control) the same network, seed, batch size and number
of steps learn from the labelled lines alone: the unlabelled corpus is useless
without someone to label it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from logsentry.analysis.tagger.tokenizer import LogTokenizer
from logsentry.train.distill.kd_loss import kd_loss
from logsentry.train.distill.teacher import SoftTargets, hard_loss
from logsentry.train.example import Example
from logsentry.train.loop import (
    IGNORE,
    EncodedExample,
    StepLoss,
    TrainingResult,
    TrainSettings,
    build_network,
    build_tokenizer,
    collate,
    encode_examples,
    endless_batches,
    epoch_steps,
    network_outputs,
    run_training,
    seed_everything,
)
from logsentry.train.network import LogTagger

log = logging.getLogger(__name__)


TOKEN_KD_MODES: tuple[str, ...] = ("all", "agree", "confident", "none")
UNLABELLED_MODES: tuple[str, ...] = ("extra", "mixed")


@dataclass(slots=True)
class StudentItem:
    encoded: EncodedExample
    soft: SoftTargets | None  # the teacher's logits of this line's set, if taught
    row: int  # this line's row in `soft`


def unlabelled_item(tokenizer: LogTokenizer, text: str) -> EncodedExample:
    """A line without labels: no hard target anywhere."""
    encoded = tokenizer.encode(text)
    return EncodedExample(encoded.words, encoded.shapes, encoded.spaces,
                          [IGNORE] * len(encoded.words), IGNORE, True, encoded.ngrams)


def attach_soft(batch: dict[str, torch.Tensor], items: Sequence[StudentItem]) -> None:
    """Add the teacher's logits, padded to the batch: `soft_tags [B, L, tags]`,
    `soft_mask [B, L]` (pieces the teacher saw), `soft_actions [B, A]`, `soft_lines [B]`."""
    size, length = batch["words"].shape
    sources = [item.soft for item in items if item.soft is not None]
    if not sources:
        return
    tags = torch.zeros((size, length, sources[0].tag_logits.shape[1]), dtype=torch.float32)
    mask = torch.zeros((size, length), dtype=torch.bool)
    actions = torch.zeros((size, sources[0].action_logits.shape[1]), dtype=torch.float32)
    lines = torch.zeros(size, dtype=torch.bool)
    for row, item in enumerate(items):
        if item.soft is None:
            continue
        tag_rows, covered, action_row = item.soft.line(item.row)
        pieces = len(item.encoded.words) - 1
        if len(covered) != pieces:  # tokenizers disagree on this line: no teacher for it
            continue
        tags[row, 1:1 + pieces] = torch.from_numpy(tag_rows.astype("float32"))
        mask[row, 1:1 + pieces] = torch.from_numpy(covered)
        actions[row] = torch.from_numpy(action_row.astype("float32"))
        lines[row] = True
    batch["soft_tags"], batch["soft_mask"] = tags, mask
    batch["soft_actions"], batch["soft_lines"] = actions, lines


def token_kd_mask(batch: dict[str, torch.Tensor], mode: str, confidence: float) -> torch.Tensor:
    """The pieces whose token distribution is distilled, `[B, L]` bool (see `token_kd`).

    A piece with a hard tag is a labelled piece; one without (unlabelled lines, pieces
    past the labels) is judged by the teacher's confidence alone under `agree`."""
    if mode not in TOKEN_KD_MODES:
        raise ValueError(f"token_kd must be one of {TOKEN_KD_MODES}, not {mode!r}")
    seen = batch["soft_mask"]
    if mode == "all":
        return seen
    if mode == "none":
        return torch.zeros_like(seen)
    probs = batch["soft_tags"].float().softmax(-1)
    top_p, top = probs.max(-1)
    sure = top_p >= confidence
    if mode == "confident":
        return seen & sure
    tags = batch["tags"]
    labelled = tags != IGNORE
    return seen & torch.where(labelled, top == tags.clamp(min=0), sure)


def distill_loss(
    network: LogTagger, batch: dict[str, torch.Tensor], config: TrainSettings,
) -> tuple[torch.Tensor, float, float]:
    """Hard loss plus (with the teacher) the weighted KD terms; also returns both parts."""
    tag_logits, action_logits = network_outputs(network, batch)
    hard = hard_loss(tag_logits, action_logits, batch, config.action_weight)
    if not config.use_teacher or "soft_tags" not in batch:
        return hard, float(hard.detach()), 0.0
    selected = token_kd_mask(batch, config.token_kd, config.kd_confidence)
    soft = kd_loss(tag_logits, batch["soft_tags"], selected, config.temperature)
    lines = batch["soft_lines"]
    if config.line_kd_confidence > 0:
        sure = batch["soft_actions"].float().softmax(-1).max(-1).values >= (
            config.line_kd_confidence)
        lines = lines & (sure | (batch["actions"] != IGNORE))
    soft = soft + config.action_weight * kd_loss(
        action_logits, batch["soft_actions"], lines, config.temperature)
    total = hard + config.kd_weight * soft
    return total, float(hard.detach()), float(soft.detach())


def train_student(
    labelled: Sequence[Example], unlabelled: Sequence[str], settings: TrainSettings,
    soft_labelled: SoftTargets | None = None, soft_unlabelled: SoftTargets | None = None,
    vocab_texts: Sequence[str] | None = None, progress: Callable[[str], None] | None = None,
    network: LogTagger | None = None, tokenizer: LogTokenizer | None = None,
) -> TrainingResult:
    """Train a student for `settings.steps` steps (`STUDENT` holds the defaults).

    With the teacher: labelled and unlabelled lines, hard and soft targets. Without:
    labelled lines only (`unlabelled` and the soft targets are not used). The vocabulary is
    built from `vocab_texts` (default: every labelled and unlabelled text) so both runs share
    it; `network`/`tokenizer` continue training an existing student (after pruning)."""
    say = progress or log.info
    rng = seed_everything(settings)
    started = time.monotonic()
    if tokenizer is None:
        tokenizer = build_tokenizer(
            vocab_texts if vocab_texts is not None else [*(e.text for e in labelled), *unlabelled],
            settings)
    if network is None:
        network = build_network(tokenizer, settings)
    encoded = encode_examples(labelled, tokenizer, network.config)
    teach = settings.use_teacher and soft_labelled is not None
    if settings.unlabelled_mode not in UNLABELLED_MODES:
        raise ValueError(f"unlabelled_mode must be one of {UNLABELLED_MODES}")
    items = [StudentItem(e, soft_labelled if teach else None, i) for i, e in enumerate(encoded)]
    extra: list[StudentItem] = []
    if settings.use_teacher and soft_unlabelled is not None:
        extra = [StudentItem(unlabelled_item(tokenizer, text), soft_unlabelled, i)
                 for i, text in enumerate(unlabelled)]
    if settings.unlabelled_mode == "mixed":
        items, extra = items + extra, []
    say(f"student ({'distilled' if settings.use_teacher else 'control'}): {len(items)} lines"
        f" + {len(extra)} unlabelled alongside,"
        f" vocab {tokenizer.vocab_size}, {time.monotonic() - started:.1f}s")
    by_encoded = {id(item.encoded): item for item in (*items, *extra)}
    # Its own random stream: the labelled batches stay exactly the control's.
    extra_batches = endless_batches([i.encoded for i in extra], settings.unlabelled_batch,
                                    random.Random(settings.seed + 1)) if extra else None
    student = network  # not Optional inside the closures below

    def taught(chunk: list[EncodedExample]) -> dict[str, torch.Tensor]:
        batch = collate(chunk)
        if settings.use_teacher:
            attach_soft(batch, [by_encoded[id(e)] for e in chunk])
        return batch

    def step_loss(chunk: list[EncodedExample]) -> StepLoss:
        loss, hard, soft = distill_loss(student, taught(chunk), settings)
        if extra_batches is not None:
            side_loss, _, side_soft = distill_loss(student, taught(next(extra_batches)),
                                                   settings)
            loss = loss + side_loss
            soft += side_soft
        return loss, {"hard": hard, "soft": soft}

    labelled_batches = endless_batches([i.encoded for i in items], settings.batch_size, rng)
    done = run_training(network, labelled_batches, step_loss, settings,
                        epoch_steps(settings, len(items)), started, say, name="student")
    return TrainingResult(network, tokenizer, done.steps, time.monotonic() - started,
                          history=done.history)
