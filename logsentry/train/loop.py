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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from logsentry.analysis.tagger.network import NetworkConfig
from logsentry.analysis.tagger.tokenizer import (
    N_SHAPES,
    N_SPACES,
    PAD,
    SPECIALS,
    UNK,
    Encoded,
    LogTokenizer,
    NgramSettings,
)
from logsentry.train.example import Example
from logsentry.train.network import LogTagger, init_weights, ngram_bags

log = logging.getLogger(__name__)

IGNORE = -100

# Characters of a path or URL read through n-grams by students trained now (see
# `NgramSettings.path_chars`): long enough for a traversal or a payload in the query.
PATH_NGRAM_CHARS = 96


@dataclass(slots=True)
class TrainSettings:
    """Every knob of a training run, for the teacher, the students and the control alike; the
    seed makes a run reproducible. The defaults are the plain (control) run's: distillation off.
    `STUDENT` and `TEACHER` below are the other roles' defaults."""

    seed: int = 13
    threads: int = 2
    max_seconds: float | None = None  # stop early (and still save) when time runs out
    log_every: int = 200
    # Length: `steps` when set, else `epochs` passes over the labelled lines.
    steps: int | None = None
    epochs: float = 3.0
    batch_size: int = 64
    # AdamW; the rate warms up linearly over `warmup` of the steps, then decays linearly to
    # `lr_floor` times itself. `head_lr`: fresh heads on a pretrained encoder (the teacher).
    lr: float = 1.5e-3
    head_lr: float | None = None
    weight_decay: float = 0.01
    warmup: float = 0.05
    lr_floor: float = 0.02
    loss_smoothing: float = 0.98  # decay of the running losses that are logged
    action_weight: float = 1.0  # line loss beside the token loss
    dropout: float = 0.1
    # Word dropout (training batches only): each ordinary vocabulary word becomes `<unk>` at
    # this rate, its n-grams, shape and spacing kept, so the network also learns to read a
    # word through the path an unseen word has at run time. 0: off (no random draw at all).
    word_dropout: float = 0.0
    # The student network (`LogTagger`) and its vocabulary.
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    context: int = 2  # local-context radius (the shipped architecture's)
    max_pieces: int = 63
    vocab_words: int = 6000
    vocab_min_count: int = 3
    # Open vocabulary: hashed character n-gram buckets beside the closed word vocabulary
    # (0: none, the closed vocabulary alone).
    ngram_buckets: int = 0
    # Start the word (and n-gram) tables from the pretrained teacher's WordPiece embeddings
    # (`train.pretrained_init`; needs the `train` extra), projected to `hidden` by PCA.
    teacher_init: bool = False
    # The teacher: a pretrained WordPiece encoder.
    max_tokens: int = 64  # window while training (CPU cost grows with it)
    infer_max_tokens: int = 128  # window when labelling lines for the student and evaluation
    freeze_word_embeddings: bool = True  # 30k x 384 table: most of the optimizer's work
    # Distillation (`distill.student`): off unless `use_teacher`.
    use_teacher: bool = False
    temperature: float = 2.0
    kd_weight: float = 1.0
    token_kd: str = "none"  # pieces distilled: all, agree, confident or none
    kd_confidence: float = 0.9  # teacher top-tag probability (T = 1) that counts as confident
    # How unlabelled lines enter: "extra" adds a batch of them to every step, on top of the
    # labelled batch the control sees at that step; "mixed" shuffles them into the labelled
    # batches (the first published table), which leaves fewer labelled lines per step.
    unlabelled_mode: str = "extra"
    unlabelled_batch: int = 32
    # Line distributions of unlabelled lines distilled only where the teacher's top action is
    # at least this likely (0: every line): an unsure teacher on an unknown format teaches noise.
    line_kd_confidence: float = 0.0
    # Line distributions taught to the line head alone (`logsentry model train --teacher`):
    # the encoder, which the token head shares, learns from the hard labels only.
    line_kd_head_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The roles' defaults; take a copy with `dataclasses.replace`, never change them in place.
# The student: the shipped network for a fixed number of steps, with or without the teacher.
STUDENT = TrainSettings(steps=1600, use_teacher=True)
# The teacher: all-MiniLM-L6-v2 fine-tuned, sized for a 2-core CPU (about 380 steps of 32
# lines, ~20 min); a low rate for the pretrained encoder, a high one for its fresh heads.
TEACHER = TrainSettings(batch_size=32, epochs=1.5, lr=2e-4, head_lr=2e-3, warmup=0.06,
                        lr_floor=0.0, loss_smoothing=0.95, log_every=20)


@dataclass(slots=True)
class EncodedExample:
    """One example as model input and targets."""

    words: list[int]
    shapes: list[int]
    spaces: list[int]
    tags: list[int]  # IGNORE on [CLS]
    action: int  # IGNORE when unknown
    roles_known: bool
    ngrams: list[tuple[int, ...]] = field(default_factory=list)  # empty: no n-grams


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
            encoded.words, encoded.shapes, encoded.spaces, tags, action, example.roles_known,
            encoded.ngrams))
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
    out = {
        "words": words, "shapes": shapes, "spaces": spaces, "mask": mask, "tags": tags,
        "actions": torch.tensor([item.action for item in batch], dtype=torch.long),
        "roles_known": torch.tensor([item.roles_known for item in batch], dtype=torch.bool),
    }
    if batch[0].ngrams:
        out["ngram_ids"], out["ngram_offsets"] = ngram_bags([item.ngrams for item in batch],
                                                            length)
    return out


def drop_words(words: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """`words` with each ordinary vocabulary word (an id after `SPECIALS`: never [PAD], [CLS],
    `<unk>` or a class token such as `<ipv4>`) replaced by `<unk>` with probability `rate`,
    drawn from `generator` (its own stream: the batches and the network's dropout draw the same
    numbers at every rate)."""
    ordinary = words >= len(SPECIALS)
    drawn = torch.rand(words.shape, generator=generator) < rate
    return words.masked_fill(ordinary & drawn, UNK)


def network_outputs(
    network: LogTagger, batch: dict[str, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tag and action logits of a `collate`d batch (n-grams included when it has them)."""
    return network(  # type: ignore[no-any-return]
        batch["words"], batch["shapes"], batch["spaces"], batch["mask"],
        batch.get("ngram_ids"), batch.get("ngram_offsets"))


def batch_loss(
    network: LogTagger, batch: dict[str, torch.Tensor], action_weight: float,
) -> torch.Tensor:
    """Token loss (full tags or constant-vs-variable marginal) plus weighted line loss."""
    tag_logits, action_logits = network_outputs(network, batch)
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


def length_batches(lengths: Sequence[int], batch_size: int, rng: random.Random,
                   ) -> list[list[int]]:
    """Batches of indices of similar length (little padding), in random order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    # Sort within windows of 50 batches: similar lengths together, still shuffled overall.
    window = batch_size * 50
    batches: list[list[int]] = []
    for begin in range(0, len(order), window):
        chunk = sorted(order[begin:begin + window], key=lambda i: lengths[i])
        batches.extend(chunk[b:b + batch_size] for b in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def make_batches(
    items: Sequence[EncodedExample], batch_size: int, rng: random.Random,
) -> list[list[EncodedExample]]:
    """`items` in batches of similar length, in random order."""
    return [[items[i] for i in batch]
            for batch in length_batches([len(item.words) for item in items], batch_size, rng)]


def endless_batches(
    items: Sequence[EncodedExample], batch_size: int, rng: random.Random,
) -> Iterator[list[EncodedExample]]:
    """`make_batches` of `items`, reshuffled at every pass, without end."""
    while True:
        yield from make_batches(items, batch_size, rng)


def seed_everything(settings: TrainSettings) -> random.Random:
    """Seed Python and torch, set torch's threads; the run's own random stream (batches)."""
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    return random.Random(settings.seed)


def epoch_steps(settings: TrainSettings, items: int) -> int:
    """`settings.steps`, or `epochs` passes of batches over `items` lines."""
    if settings.steps is not None:
        return settings.steps
    return max(1, int(math.ceil(items / settings.batch_size) * settings.epochs))


# One step's loss and its parts as plain numbers (smoothed and logged under their names).
StepLoss = tuple[torch.Tensor, dict[str, float]]
Batch = TypeVar("Batch")


@dataclass(slots=True)
class LoopResult:
    steps: int
    history: list[dict[str, float]]
    last: dict[str, float]  # the parts of the last step's loss, unsmoothed


def run_training(
    model: nn.Module, batches: Iterator[Batch], step_loss: Callable[[Batch], StepLoss],
    settings: TrainSettings, total_steps: int, started: float, say: Callable[[str], None],
    name: str = "", param_groups: list[dict[str, Any]] | None = None,
) -> LoopResult:
    """The training loop of every role: `total_steps` AdamW steps, each on the loss
    `step_loss` gives for the next batch of `batches`, with linear warmup and decay, gradients
    clipped to norm 1; running losses logged every `settings.log_every` steps. Stops early
    once `settings.max_seconds` have passed since `started`. `param_groups`: optimizer groups
    with their own `lr` (default: every parameter of `model` at `settings.lr`)."""
    groups = param_groups or [{"params": list(model.parameters()), "lr": settings.lr}]
    optimizer = torch.optim.AdamW(groups, weight_decay=settings.weight_decay)
    warmup = max(1, int(total_steps * settings.warmup))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(settings.lr_floor, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    prefix = f"{name} " if name else ""
    model.train()
    step = 0
    running: dict[str, float] = {}
    last: dict[str, float] = {}
    history: list[dict[str, float]] = []
    while step < total_steps:
        loss, last = step_loss(next(batches))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        decay = 0.0 if step == 1 else settings.loss_smoothing
        running = {k: decay * running.get(k, 0.0) + (1 - decay) * v for k, v in last.items()}
        elapsed = time.monotonic() - started
        if step % settings.log_every == 0 or step == total_steps:
            history.append({"step": step, **running, "seconds": elapsed})
            parts = " ".join(f"{k} {v:.4f}" for k, v in running.items())
            say(f"{prefix}step {step}/{total_steps} {parts} {elapsed:.0f}s")
        if settings.max_seconds is not None and elapsed > settings.max_seconds:
            say(f"{name + ': ' if name else ''}time budget reached at step {step}/{total_steps}")
            break
    model.eval()
    return LoopResult(step, history, last)


@dataclass(slots=True)
class TrainingResult:
    """A trained student network (control or distilled) and its vocabulary."""

    network: LogTagger
    tokenizer: LogTokenizer
    steps: int
    seconds: float
    final_loss: float = float("nan")  # the last step's loss, unsmoothed (plain runs)
    history: list[dict[str, float]] = field(default_factory=list)


def build_tokenizer(texts: Iterable[str], settings: TrainSettings) -> LogTokenizer:
    """The student's vocabulary over `texts`."""
    ngrams = (NgramSettings(settings.ngram_buckets, path_chars=PATH_NGRAM_CHARS)
              if settings.ngram_buckets > 0 else None)
    return LogTokenizer.build(texts, max_words=settings.vocab_words,
                              min_count=settings.vocab_min_count, max_pieces=settings.max_pieces,
                              ngrams=ngrams)


def build_network(tokenizer: LogTokenizer, settings: TrainSettings) -> LogTagger:
    """A freshly initialised student network of `settings`' sizes over `tokenizer`."""
    config = NetworkConfig(
        n_words=tokenizer.vocab_size, n_shapes=N_SHAPES, n_spaces=N_SPACES,
        hidden=settings.hidden, layers=settings.layers, heads=settings.heads,
        intermediate=settings.intermediate, max_positions=settings.max_pieces + 1,
        dropout=settings.dropout, context=settings.context,
        n_ngram_buckets=tokenizer.ngrams.buckets if tokenizer.ngrams is not None else 0)
    network = LogTagger(config, lean=False)
    init_weights(network)
    if settings.teacher_init:
        from logsentry.train.pretrained_init import init_from_teacher

        init_from_teacher(network, tokenizer)
    return network


# Given the run's tokenizer, a loss to add at every step (`distill.side_loss.teacher_side_loss`:
# the teacher's line distributions on a batch of unlabelled lines).
SideLoss = Callable[[LogTokenizer], Callable[[LogTagger], torch.Tensor]]


def train(
    examples: Sequence[Example], settings: TrainSettings,
    progress: Callable[[str], None] | None = None, side_loss: SideLoss | None = None,
) -> TrainingResult:
    """Build the tokenizer from `examples`, then train a fresh network on them. With
    `side_loss`, every step adds its term; the labelled batches are the very same as without
    (their random stream is untouched), so the run without is the control."""
    say = progress or log.info
    rng = seed_everything(settings)
    started = time.monotonic()
    tokenizer = build_tokenizer((e.text for e in examples), settings)
    network = build_network(tokenizer, settings)
    items = encode_examples(examples, tokenizer, network.config)
    extra = side_loss(tokenizer) if side_loss is not None else None
    say(f"encoded {len(items)} examples, vocab {tokenizer.vocab_size},"
        f" {time.monotonic() - started:.1f}s")

    word_draws = (torch.Generator().manual_seed(settings.seed)
                  if settings.word_dropout > 0 else None)

    def step_loss(batch_items: list[EncodedExample]) -> StepLoss:
        batch = collate(batch_items)
        if word_draws is not None:
            batch["words"] = drop_words(batch["words"], settings.word_dropout, word_draws)
        loss = batch_loss(network, batch, settings.action_weight)
        if extra is not None:
            loss = loss + extra(network)
        return loss, {"loss": float(loss.detach())}

    done = run_training(network, endless_batches(items, settings.batch_size, rng), step_loss,
                        settings, epoch_steps(settings, len(items)), started, say)
    return TrainingResult(network, tokenizer, done.steps, time.monotonic() - started,
                          done.last.get("loss", float("nan")), done.history)
