"""The teacher beside a full training run: `logsentry model train --teacher WORK`.

The shipped model is trained by `logsentry model train` on 100,000 generated and the
real training lines. Distilling it means the same run, same labelled batches, plus at
every step a batch of unlabelled lines whose line distributions (the action head) come
from the fine-tuned teacher that `logsentry model distill --work WORK` left in `WORK`,
where the teacher is at least `line_kd_confidence` sure. Token distributions are not
distilled (`distill.student`: the CPU teacher is the weaker entity tagger). The run
without `--teacher` is the control.

With `--teach-labelled` the side batches also draw from the run's own training lines
(the labels still count in the labelled batches; the side batches add the teacher's line
distributions over them). The teacher's logits over the side lines are cached in `WORK`
under a digest of those lines, so a changed corpus is relabelled, never silently
misaligned.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from logsentry.analysis.tagger.tokenizer import LogTokenizer
from logsentry.train.distill.corpus import CorpusSizes, build_corpus
from logsentry.train.distill.kd_loss import kd_loss
from logsentry.train.distill.student import (
    StudentItem,
    attach_soft,
    distill_loss,
    unlabelled_item,
)
from logsentry.train.distill.teacher import TEACHER_FILE, SoftTargets, load_teacher, soft_targets
from logsentry.train.loop import SideLoss, TrainSettings, collate, endless_batches
from logsentry.train.network import LogTagger

Progress = Callable[[str], None]


class TeacherMissing(RuntimeError):
    """`WORK` holds no fine-tuned teacher."""


def teacher_side_loss(work: Path, seed: int, settings: TrainSettings, say: Progress,
                      infer_max_tokens: int = 128, labelled: Sequence[str] = (),
                      ) -> tuple[SideLoss, dict[str, object]]:
    """The side loss of a distilled training run, and what it was made of (for the model's
    metadata). Its lines: the distillation corpus's unlabelled lines, plus `labelled` (the
    run's own training texts, taught again by the teacher's line distributions). Computes
    and caches the teacher's logits over them."""
    teacher_dir = work / "teacher"
    if not (teacher_dir / TEACHER_FILE).is_file():
        raise TeacherMissing(
            f"{teacher_dir}: no fine-tuned teacher; run `logsentry model distill --work {work}"
            " --out DIR` first")
    corpus = build_corpus(seed, CorpusSizes())
    lines = [*corpus.unlabelled, *labelled]
    # Repeated lines (the real training lines come several times) are labelled once.
    row_of: dict[str, int] = {}
    for text in lines:
        row_of.setdefault(text, len(row_of))
    unique = list(row_of)
    # The teacher's rows must cover the student's pieces: align to the student's piece limit,
    # not to the (shorter) one the teacher was trained with, or every line longer than that
    # would silently lose its teacher (`attach_soft` skips a line whose piece counts differ).
    stamp = f"{settings.max_pieces}\n" + "\n".join(unique)
    digest = hashlib.sha256(stamp.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    folder = work / f"soft-side-{digest}"
    if (folder / "action_logits.npy").is_file():
        say(f"teacher logits: reusing {folder}")
        soft = SoftTargets.load(folder)
    else:
        teacher, tokens, _ = load_teacher(teacher_dir)
        tokens.max_pieces = settings.max_pieces
        say(f"teacher logits: {len(unique)} distinct of {len(lines)} lines")
        soft = soft_targets(teacher, tokens, unique, max_tokens=infer_max_tokens, progress=say)
        soft.save(folder)
    teacher_meta = json.loads((teacher_dir / TEACHER_FILE).read_text(encoding="utf-8"))
    origin = {"teacher": str(teacher_dir),
              "teacher_data": teacher_meta.get("meta", {}).get("fingerprint", {}).get("data"),
              "unlabelled": len(corpus.unlabelled), "labelled": len(labelled),
              "distinct_lines": len(unique), "max_pieces": settings.max_pieces,
              "lines_digest": digest, "unlabelled_origins": corpus.unlabelled_origins,
              "kd": settings.to_dict()}

    def for_tokenizer(tokenizer: LogTokenizer) -> Callable[[LogTagger], torch.Tensor]:
        items = [StudentItem(unlabelled_item(tokenizer, text), soft, row_of[text])
                 for text in lines]
        by_encoded = {id(item.encoded): item for item in items}
        # Its own random stream: the labelled batches stay exactly the control's.
        batches = endless_batches([item.encoded for item in items], settings.unlabelled_batch,
                                   random.Random(seed + 1))

        def loss(network: LogTagger) -> torch.Tensor:
            chunk = next(batches)
            batch = collate(chunk)
            attach_soft(batch, [by_encoded[id(e)] for e in chunk])
            if settings.line_kd_head_only:
                return head_only_line_loss(network, batch, settings)
            total, _, _ = distill_loss(network, batch, settings)
            return total

        return loss

    return for_tokenizer, origin


def head_only_line_loss(network: LogTagger, batch: dict[str, torch.Tensor],
                        settings: TrainSettings) -> torch.Tensor:
    """The teacher's line distributions taught to the line head over encoder features it
    cannot move: the token boundaries the hard labels teach stay theirs alone."""
    if "soft_actions" not in batch:
        return torch.zeros(())
    with torch.no_grad():
        features = network.encode(
            batch["words"], batch["shapes"], batch["spaces"], batch["mask"],
            batch.get("ngram_ids"), batch.get("ngram_offsets"))[:, 0]
    logits = network.action_head(features)
    lines = batch["soft_lines"]
    if settings.line_kd_confidence > 0:
        sure = batch["soft_actions"].softmax(-1).max(-1).values >= settings.line_kd_confidence
        lines = lines & sure
    return settings.kd_weight * settings.action_weight * kd_loss(
        logits, batch["soft_actions"], lines, settings.temperature)
