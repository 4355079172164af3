"""Training: labelled examples -> piece tags -> a trained `LogTagger`.

Token loss: cross-entropy over BIO tags. Examples whose roles are unknown
(Loghub: only the template is known) contribute the marginal likelihood of
"constant" versus "any variable tag", so they teach templates without forcing
a role. Examples without a line label (`action_known=False`) add no line loss.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from logsentry.analysis.tagger.network import LogTagger, NetworkConfig, init_weights
from logsentry.analysis.tagger.tokenizer import N_SHAPES, N_SPACES, PAD, Encoded, LogTokenizer
from logsentry.train.example import Example

log = logging.getLogger(__name__)

IGNORE = -100


@dataclass(slots=True)
class TrainingConfig:
    """Hyper-parameters of one training run; the seed makes it reproducible."""

    seed: int = 13
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    max_pieces: int = 63
    vocab_words: int = 6000
    vocab_min_count: int = 3
    epochs: float = 3.0
    batch_size: int = 64
    lr: float = 1.5e-3
    weight_decay: float = 0.01
    warmup: float = 0.05
    dropout: float = 0.1
    context: int = 2
    action_weight: float = 1.0
    threads: int = 2
    max_seconds: float | None = None  # stop early (and still save) when time runs out
    log_every: int = 200

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class EncodedExample:
    """One example as model input and targets."""

    words: list[int]
    shapes: list[int]
    spaces: list[int]
    tags: list[int]  # IGNORE on [CLS]
    action: int  # IGNORE when unknown
    roles_known: bool


def piece_tags(example: Example, encoded: Encoded, tag_index: dict[str, int]) -> list[int]:
    """Tag ids of the pieces of `encoded` (no [CLS]): the span each piece overlaps most, BIO.

    Pieces outside every span are constant, unless the example's spans are incomplete
    (fail2ban/CrowdSec lines label only what their annotations name): then IGNORE."""
    outside = tag_index["O"] if getattr(example, "spans_complete", True) else IGNORE
    tags: list[int] = []
    spans = example.spans
    span_i = 0
    last_span = -1
    for piece in encoded.pieces:
        while span_i < len(spans) and spans[span_i].end <= piece.start:
            span_i += 1
        best, best_overlap = -1, 0
        j = span_i
        while j < len(spans) and spans[j].start < piece.end:
            overlap = min(spans[j].end, piece.end) - max(spans[j].start, piece.start)
            if overlap > best_overlap:
                best, best_overlap = j, overlap
            j += 1
        # A piece mostly outside every span is constant.
        if best < 0 or 2 * best_overlap < piece.end - piece.start:
            tags.append(outside)
            continue
        prefix = "I" if best == last_span else "B"
        tags.append(tag_index[f"{prefix}-{spans[best].label}"])
        last_span = best
    return tags


def encode_examples(
    examples: Sequence[Example], tokenizer: LogTokenizer, config: NetworkConfig,
) -> list[EncodedExample]:
    """Encode and tag every example."""
    tag_index = {tag: i for i, tag in enumerate(config.tags)}
    action_index = {action: i for i, action in enumerate(config.actions)}
    out: list[EncodedExample] = []
    for example in examples:
        encoded = tokenizer.encode(example.text)
        tags = [IGNORE, *piece_tags(example, encoded, tag_index)]
        action = action_index.get(example.action, IGNORE) if example.action_known else IGNORE
        out.append(EncodedExample(
            encoded.words, encoded.shapes, encoded.spaces, tags, action, example.roles_known))
    return out


def collate(batch: Sequence[EncodedExample]) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest sequence."""
    length = max(len(item.words) for item in batch)
    size = len(batch)
    words = torch.full((size, length), PAD, dtype=torch.long)
    shapes = torch.zeros((size, length), dtype=torch.long)
    spaces = torch.zeros((size, length), dtype=torch.long)
    mask = torch.zeros((size, length), dtype=torch.long)
    tags = torch.full((size, length), IGNORE, dtype=torch.long)
    for row, item in enumerate(batch):
        n = len(item.words)
        words[row, :n] = torch.tensor(item.words)
        shapes[row, :n] = torch.tensor(item.shapes)
        spaces[row, :n] = torch.tensor(item.spaces)
        mask[row, :n] = 1
        tags[row, :n] = torch.tensor(item.tags)
    return {
        "words": words, "shapes": shapes, "spaces": spaces, "mask": mask, "tags": tags,
        "actions": torch.tensor([item.action for item in batch], dtype=torch.long),
        "roles_known": torch.tensor([item.roles_known for item in batch], dtype=torch.bool),
    }


def batch_loss(
    network: LogTagger, batch: dict[str, torch.Tensor], action_weight: float,
) -> torch.Tensor:
    """Token loss (full tags or constant-vs-variable marginal) plus weighted line loss."""
    tag_logits, action_logits = network(
        batch["words"], batch["shapes"], batch["spaces"], batch["mask"])
    tags = batch["tags"]
    log_probs = F.log_softmax(tag_logits, dim=-1)
    valid = tags != IGNORE
    known = batch["roles_known"][:, None] & valid
    unknown = (~batch["roles_known"])[:, None] & valid
    safe_tags = tags.clamp(min=0)
    picked = log_probs.gather(-1, safe_tags[..., None]).squeeze(-1)
    log_constant = log_probs[..., 0]
    log_variable = torch.logsumexp(log_probs[..., 1:], dim=-1)
    marginal = torch.where(safe_tags == 0, log_constant, log_variable)
    token_ll = torch.where(known, picked, torch.zeros_like(picked))
    token_ll = token_ll + torch.where(unknown, marginal, torch.zeros_like(marginal))
    count = valid.sum().clamp(min=1)
    loss = -token_ll.sum() / count
    if bool((batch["actions"] != IGNORE).any()):
        loss = loss + action_weight * F.cross_entropy(
            action_logits, batch["actions"], ignore_index=IGNORE)
    return loss


def make_batches(
    items: Sequence[EncodedExample], batch_size: int, rng: random.Random,
) -> list[list[EncodedExample]]:
    """Batches of similar length (little padding), in random order."""
    order = list(range(len(items)))
    rng.shuffle(order)
    # Sort within windows of 50 batches: similar lengths together, still shuffled overall.
    window = batch_size * 50
    batches: list[list[EncodedExample]] = []
    for begin in range(0, len(order), window):
        chunk = sorted(order[begin:begin + window], key=lambda i: len(items[i].words))
        for b in range(0, len(chunk), batch_size):
            batches.append([items[i] for i in chunk[b:b + batch_size]])
    rng.shuffle(batches)
    return batches


@dataclass(slots=True)
class TrainingResult:
    network: LogTagger
    tokenizer: LogTokenizer
    steps: int
    seconds: float
    final_loss: float
    history: list[dict[str, float]] = field(default_factory=list)


# Given the run's tokenizer, a loss to add at every step (`distill.pipeline.teacher_side_loss`:
# the teacher's line distributions on a batch of unlabelled lines).
SideLoss = Callable[[LogTokenizer], Callable[[LogTagger], torch.Tensor]]


def train(
    examples: Sequence[Example], config: TrainingConfig,
    progress: Callable[[str], None] | None = None, side_loss: SideLoss | None = None,
) -> TrainingResult:
    """Build the tokenizer from `examples`, then train a fresh network on them. With
    `side_loss`, every step adds its term; the labelled batches are the very same as without
    (their random stream is untouched), so the run without is the control."""
    say = progress or log.info
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = random.Random(config.seed)
    started = time.monotonic()
    tokenizer = LogTokenizer.build(
        (e.text for e in examples), max_words=config.vocab_words,
        min_count=config.vocab_min_count, max_pieces=config.max_pieces)
    net_config = NetworkConfig(
        n_words=tokenizer.vocab_size, n_shapes=N_SHAPES, n_spaces=N_SPACES,
        hidden=config.hidden, layers=config.layers, heads=config.heads,
        intermediate=config.intermediate, max_positions=config.max_pieces + 1,
        dropout=config.dropout, context=config.context)
    network = LogTagger(net_config, lean=False)
    init_weights(network)
    items = encode_examples(examples, tokenizer, net_config)
    extra = side_loss(tokenizer) if side_loss is not None else None
    say(f"encoded {len(items)} examples, vocab {tokenizer.vocab_size},"
        f" {time.monotonic() - started:.1f}s")
    steps_per_epoch = math.ceil(len(items) / config.batch_size)
    total_steps = max(1, int(steps_per_epoch * config.epochs))
    warmup = max(1, int(total_steps * config.warmup))
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.02, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    network.train()
    step = 0
    running = 0.0
    history: list[dict[str, float]] = []
    last_loss = float("nan")
    while step < total_steps:
        for batch_items in make_batches(items, config.batch_size, rng):
            if step >= total_steps:
                break
            batch = collate(batch_items)
            loss = batch_loss(network, batch, config.action_weight)
            if extra is not None:
                loss = loss + extra(network)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            last_loss = float(loss.detach())
            running = 0.98 * running + 0.02 * last_loss if step > 1 else last_loss
            if step % config.log_every == 0 or step == total_steps:
                elapsed = time.monotonic() - started
                history.append({"step": step, "loss": running, "seconds": elapsed})
                say(f"step {step}/{total_steps} loss {running:.4f} {elapsed:.0f}s")
            if config.max_seconds is not None and time.monotonic() - started > config.max_seconds:
                say(f"time budget reached at step {step}/{total_steps}")
                total_steps = step
                break
    network.eval()
    return TrainingResult(
        network, tokenizer, step, time.monotonic() - started, last_loss, history)
