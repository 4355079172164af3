"""The student: the shipped `LogTagger` architecture, trained with or without the teacher.

With the teacher (`DistillConfig.use_teacher`), the loss is the student's hard
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from logsentry.analysis.tagger.network import LogTagger, NetworkConfig, init_weights
from logsentry.analysis.tagger.tokenizer import N_SHAPES, N_SPACES, LogTokenizer
from logsentry.train.distill.kd_loss import kd_loss
from logsentry.train.distill.teacher import SoftTargets, hard_loss
from logsentry.train.example import Example
from logsentry.train.loop import IGNORE, EncodedExample, collate, encode_examples, make_batches

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DistillConfig:
    """Hyper-parameters of a student run; the network sizes are the shipped student's."""

    seed: int = 13
    use_teacher: bool = True
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    max_pieces: int = 63
    vocab_words: int = 6000
    vocab_min_count: int = 3
    steps: int = 1600
    batch_size: int = 64
    lr: float = 1.5e-3
    weight_decay: float = 0.01
    warmup: float = 0.05
    dropout: float = 0.1
    action_weight: float = 1.0
    context: int = 2  # local-context radius of the network (the shipped architecture's)
    temperature: float = 2.0
    kd_weight: float = 1.0
    token_kd: str = "none"  # pieces distilled: all, agree, confident or none (see above)
    kd_confidence: float = 0.9  # teacher top-tag probability (T = 1) that counts as confident
    # How unlabelled lines enter: "extra" adds a batch of them to every step, on top of the
    # labelled batch the control sees at that step; "mixed" shuffles them into the labelled
    # batches (the first published table), which leaves fewer labelled lines per step.
    unlabelled_mode: str = "extra"
    # Line distributions of unlabelled lines distilled only where the teacher's top action is
    # at least this likely (0: every line): an unsure teacher on an unknown format teaches noise.
    line_kd_confidence: float = 0.0
    # Line distributions taught to the line head alone (`logsentry model train --teacher`):
    # the encoder, which the token head shares, learns from the hard labels only.
    line_kd_head_only: bool = False
    unlabelled_batch: int = 32
    threads: int = 2
    max_seconds: float | None = None
    log_every: int = 200

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TOKEN_KD_MODES: tuple[str, ...] = ("all", "agree", "confident", "none")
UNLABELLED_MODES: tuple[str, ...] = ("extra", "mixed")


@dataclass(slots=True)
class StudentItem:
    encoded: EncodedExample
    soft: SoftTargets | None  # the teacher's logits of this line's set, if taught
    row: int  # this line's row in `soft`


@dataclass(slots=True)
class StudentResult:
    network: LogTagger
    tokenizer: LogTokenizer
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def unlabelled_item(tokenizer: LogTokenizer, text: str) -> EncodedExample:
    """A line without labels: no hard target anywhere."""
    encoded = tokenizer.encode(text)
    return EncodedExample(encoded.words, encoded.shapes, encoded.spaces,
                          [IGNORE] * len(encoded.words), IGNORE, True)


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
    network: LogTagger, batch: dict[str, torch.Tensor], config: DistillConfig,
) -> tuple[torch.Tensor, float, float]:
    """Hard loss plus (with the teacher) the weighted KD terms; also returns both parts."""
    tag_logits, action_logits = network(
        batch["words"], batch["shapes"], batch["spaces"], batch["mask"])
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


def endless_batches(
    items: Sequence[EncodedExample], batch_size: int, rng: random.Random,
) -> Iterator[list[EncodedExample]]:
    """Length-bucketed batches of `items`, reshuffled at every pass, without end."""
    while True:
        yield from make_batches(items, batch_size, rng)


def train_student(
    labelled: Sequence[Example], unlabelled: Sequence[str], config: DistillConfig,
    soft_labelled: SoftTargets | None = None, soft_unlabelled: SoftTargets | None = None,
    vocab_texts: Sequence[str] | None = None, progress: Callable[[str], None] | None = None,
    network: LogTagger | None = None, tokenizer: LogTokenizer | None = None,
) -> StudentResult:
    """Train a student for `config.steps` steps.

    With the teacher: labelled and unlabelled lines, hard and soft targets. Without:
    labelled lines only (`unlabelled` and the soft targets are not used). The vocabulary is
    built from `vocab_texts` (default: every labelled and unlabelled text) so both runs share
    it; `network`/`tokenizer` continue training an existing student (after pruning)."""
    say = progress or log.info
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    started = time.monotonic()
    if tokenizer is None:
        texts = vocab_texts if vocab_texts is not None else [
            *(e.text for e in labelled), *unlabelled]
        tokenizer = LogTokenizer.build(texts, max_words=config.vocab_words,
                                       min_count=config.vocab_min_count,
                                       max_pieces=config.max_pieces)
    if network is None:
        net_config = NetworkConfig(
            n_words=tokenizer.vocab_size, n_shapes=N_SHAPES, n_spaces=N_SPACES,
            hidden=config.hidden, layers=config.layers, heads=config.heads,
            intermediate=config.intermediate, max_positions=config.max_pieces + 1,
            dropout=config.dropout, context=config.context)
        network = LogTagger(net_config, lean=False)
        init_weights(network)
    encoded = encode_examples(labelled, tokenizer, network.config)
    teach = config.use_teacher and soft_labelled is not None
    if config.unlabelled_mode not in UNLABELLED_MODES:
        raise ValueError(f"unlabelled_mode must be one of {UNLABELLED_MODES}")
    items = [StudentItem(e, soft_labelled if teach else None, i) for i, e in enumerate(encoded)]
    extra: list[StudentItem] = []
    if config.use_teacher and soft_unlabelled is not None:
        extra = [StudentItem(unlabelled_item(tokenizer, text), soft_unlabelled, i)
                 for i, text in enumerate(unlabelled)]
    if config.unlabelled_mode == "mixed":
        items, extra = items + extra, []
    say(f"student ({'distilled' if config.use_teacher else 'control'}): {len(items)} lines"
        f" + {len(extra)} unlabelled alongside,"
        f" vocab {tokenizer.vocab_size}, {time.monotonic() - started:.1f}s")
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    total = config.steps
    warmup = max(1, int(total * config.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup
        else max(0.02, (total - s) / max(1, total - warmup)))
    by_encoded = {id(item.encoded): item for item in (*items, *extra)}
    # Its own random stream: the labelled batches stay exactly the control's.
    extra_batches = endless_batches([i.encoded for i in extra], config.unlabelled_batch,
                                     random.Random(config.seed + 1)) if extra else None
    network.train()
    step = 0
    running_hard = running_soft = 0.0
    history: list[dict[str, float]] = []
    while step < total:
        for chunk in make_batches([i.encoded for i in items], config.batch_size, rng):
            if step >= total:
                break
            chosen = [by_encoded[id(e)] for e in chunk]
            batch = collate(chunk)
            if config.use_teacher:
                attach_soft(batch, chosen)
            loss, hard_value, soft_value = distill_loss(network, batch, config)
            if extra_batches is not None:
                side = next(extra_batches)
                side_batch = collate(side)
                attach_soft(side_batch, [by_encoded[id(e)] for e in side])
                side_loss, _, side_soft = distill_loss(network, side_batch, config)
                loss = loss + side_loss
                soft_value += side_soft
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            decay = 0.0 if step == 1 else 0.98
            running_hard = decay * running_hard + (1 - decay) * hard_value
            running_soft = decay * running_soft + (1 - decay) * soft_value
            if step % config.log_every == 0 or step == total:
                elapsed = time.monotonic() - started
                history.append({"step": step, "hard": running_hard, "soft": running_soft,
                                "seconds": elapsed})
                say(f"student step {step}/{total} hard {running_hard:.4f}"
                    f" soft {running_soft:.4f} {elapsed:.0f}s")
            if config.max_seconds is not None and time.monotonic() - started > config.max_seconds:
                say(f"student: time budget reached at step {step}/{total}")
                total = step
                break
    network.eval()
    return StudentResult(network, tokenizer, step, time.monotonic() - started, history)

