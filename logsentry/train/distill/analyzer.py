"""The teacher as a `logsentry.analysis.base.Analyzer`, for the same evaluation as the student.

`TeacherAnalyzer` is the engine's `ModelAnalyzer` (same caches, same batching,
same decoding of piece tags into fields and templates via `build_analysis`)
with the student network swapped for the teacher: the student's tokenizer still
cuts the pieces, the teacher labels them. Figures of teacher and student thus
differ only by the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from logsentry.analysis.tagger.artifacts import LoadedModel
from logsentry.analysis.tagger.inference import Labels, ModelAnalyzer, template_wild
from logsentry.analysis.tagger.network import Network, NetworkConfig
from logsentry.analysis.tagger.tokenizer import N_SHAPES, N_SPACES, SPECIALS, Encoded, LogTokenizer
from logsentry.core.actions import ACTIONS
from logsentry.train.distill.teacher import TeacherTagger, TeacherTokens, collate_inputs


@dataclass(slots=True)
class _TextEncoded(Encoded):
    """Encoded pieces plus the line they came from (the teacher reads the text)."""

    text: str = ""


class _TextKeepingTokenizer(LogTokenizer):
    """The student's piece tokenizer, keeping each line's text beside its pieces."""

    def encode(self, text: str) -> Encoded:
        base = super().encode(text)
        return _TextEncoded(base.pieces, base.truncated, base.words, base.shapes, base.spaces,
                            base.ngrams, text)


class TeacherAnalyzer(ModelAnalyzer):
    """`ModelAnalyzer` whose network is the teacher."""

    def __init__(
        self, teacher: TeacherTagger, tokens: TeacherTokens, cache_size: int = 100_000,
        max_batch: int = 64, max_tokens: int | None = None,
    ) -> None:
        vocab = {token: i for i, token in enumerate(SPECIALS)}
        pieces = _TextKeepingTokenizer(vocab, tokens.max_pieces)
        config = NetworkConfig(n_words=len(vocab), n_shapes=N_SHAPES, n_spaces=N_SPACES,
                               tags=list(teacher.tags), actions=list(teacher.actions))
        # The engine only reads the network through `_predict`, overridden below.
        model = LoadedModel(network=Network.__new__(Network), tokenizer=pieces,
                            config=config, meta={}, path=Path("."))
        super().__init__(model, cache_size=cache_size, max_batch=max_batch)
        self.teacher = teacher
        self.tokens = tokens
        self.max_tokens = teacher.window(max_tokens or tokens.max_tokens)

    def _predict(self, items: Sequence[Encoded], texts: Sequence[str]) -> list[Labels]:
        inputs = self.tokens.encode(texts, self.max_tokens)
        batch = collate_inputs(inputs, int(self.tokens.tokenizer.pad_token_id or 0))
        with torch.inference_mode():
            tag_logits, action_logits = self.teacher(
                batch["input_ids"], batch["attention_mask"], batch["index"])
            tag_best, tag_ids = tag_logits.softmax(-1).max(-1)
            action_best, action_ids = action_logits.softmax(-1).max(-1)
        # Pieces past the teacher's window are template constants, as a truncated line's tail.
        tag_ids = torch.where(batch["covered"], tag_ids, torch.zeros_like(tag_ids))
        tag_best = torch.where(batch["covered"], tag_best, torch.ones_like(tag_best))
        ids: list[list[int]] = tag_ids.tolist()
        best: list[list[float]] = tag_best.tolist()
        out: list[Labels] = []
        for row, (item, text) in enumerate(zip(items, texts, strict=True)):
            n = len(item.pieces)
            action = self._actions[int(action_ids[row])]
            if action not in ACTIONS:
                action = "other"
            token_conf = min(best[row][1:1 + n], default=1.0)
            confidence = float(action_best[row]) * (0.5 + 0.5 * float(token_conf))
            out.append(Labels(tuple(ids[row][1:1 + n]), action, round(confidence, 4),
                              template_wild(text, item.pieces)))
        return out


def teacher_analyzer(path: Path, cache_size: int = 100_000, **kwargs: Any) -> TeacherAnalyzer:
    """Load a saved teacher as an Analyzer (inference window: the teacher's `infer_max_tokens`)."""
    from logsentry.train.distill.teacher import load_teacher

    teacher, tokens, meta = load_teacher(path)
    settings = meta.get("config")
    window = int(settings.get("infer_max_tokens", tokens.max_tokens)
                 if isinstance(settings, dict) else tokens.max_tokens)
    kwargs.setdefault("max_tokens", window)
    return TeacherAnalyzer(teacher, tokens, cache_size=cache_size, **kwargs)
