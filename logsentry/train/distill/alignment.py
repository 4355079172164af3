"""Word-level alignment between the teacher's WordPiece tokens and the student's log pieces.

The two tokenizers cut a line differently: the student keeps `192.0.2.7` or a
path whole, WordPiece splits them into many sub-tokens. Both keep character
offsets into the same line, so every student piece is represented on the
teacher's side by the *first sub-token* that starts inside it (the usual
word-level labelling of token classification). A piece in which no teacher
token starts (a WordPiece token that began in the previous piece runs into it)
takes the first token overlapping it; a piece past the teacher's truncation has
no token at all (`NO_TOKEN`) and gets no teacher label.
"""

from __future__ import annotations

from collections.abc import Sequence

NO_TOKEN = -1


def piece_token_index(
    pieces: Sequence[tuple[int, int]], offsets: Sequence[tuple[int, int]],
) -> list[int]:
    """For each piece `(start, end)`, the index in `offsets` of the teacher token that
    carries its label, or `NO_TOKEN`.

    `offsets` are the teacher tokens' character spans in order, as a fast tokenizer's
    `offset_mapping` gives them; special tokens (empty spans) are skipped."""
    tokens = [(i, s, e) for i, (s, e) in enumerate(offsets) if e > s]
    out: list[int] = []
    t = 0
    for start, end in pieces:
        # Tokens wholly before this piece can never serve a later piece either.
        while t < len(tokens) and tokens[t][2] <= start:
            t += 1
        chosen = NO_TOKEN
        overlap = NO_TOKEN
        j = t
        while j < len(tokens) and tokens[j][1] < end:
            index, tok_start, _ = tokens[j]
            if tok_start >= start:
                chosen = index
                break
            if overlap == NO_TOKEN:
                overlap = index
            j += 1
        out.append(chosen if chosen != NO_TOKEN else overlap)
    return out
