"""Distillation: word-level alignment, the KD loss, pruning, and a seconds-long smoke run
with a tiny random teacher (MiniLM is never loaded here)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast  # type: ignore[attr-defined]

from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.inference import ModelAnalyzer
from logsentry.analysis.tagger.network import NetworkConfig
from logsentry.analysis.tagger.tokenizer import LogTokenizer, split_pieces
from logsentry.train.artifacts import save_model
from logsentry.train.distill.alignment import NO_TOKEN, piece_token_index
from logsentry.train.distill.analyzer import TeacherAnalyzer
from logsentry.train.distill.compression import prune_layers, prune_width
from logsentry.train.distill.corpus import Corpus
from logsentry.train.distill.kd_loss import kd_loss
from logsentry.train.distill.pipeline import RunConfig, _fingerprint, _teacher_fingerprint
from logsentry.train.distill.student import (
    distill_loss,
    token_kd_mask,
    train_student,
)
from logsentry.train.distill.teacher import (
    SoftTargets,
    TeacherTokens,
    load_teacher,
    save_teacher,
    soft_targets,
    train_teacher,
)
from logsentry.train.example import Example, ExampleBuilder
from logsentry.train.loop import (
    IGNORE,
    STUDENT,
    TEACHER,
    TrainSettings,
    collate,
    encode_examples,
)
from logsentry.train.network import LogTagger, init_weights

USERS = ("root", "admin", "bob", "alice", "oracle", "deploy")
WORDS = ("failed", "password", "for", "from", "port", "ssh", "accepted", "publickey",
         "session", "opened", "user", "by", "uid", "invalid", "pam", "unix", "sudo", *USERS)


def examples(n: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    out: list[Example] = []
    for i in range(n):
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        user, port = rng.choice(USERS), str(rng.randint(1024, 65535))
        b = ExampleBuilder()
        if i % 3 == 0:
            b.const("Failed password for ").var(user, "user.name").const(" from ")
            out.append(b.var(ip, "source.ip").const(" port ").var(port, "source.port")
                       .const(" ssh2").build("ssh_login_failed", "openssh"))
        elif i % 3 == 1:
            b.const("Accepted publickey for ").var(user, "user.name").const(" from ")
            out.append(b.var(ip, "source.ip").const(" port ").var(port, "source.port")
                       .const(" ssh2").build("ssh_login_success", "openssh"))
        else:
            b.const("pam_unix(sudo:session): session opened for user ").var(user, "user.name")
            out.append(b.const(" by (uid=").var(str(rng.randint(0, 999))).const(")")
                       .build("session_opened", "pam"))
    return out


@pytest.fixture(scope="module")
def wordpiece() -> Any:
    """A small WordPiece tokenizer: a few words, characters and their ## forms."""
    chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *chars,
             *(f"##{c}" for c in chars if c.isalnum()), *(f"##{w}" for w in WORDS)]
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(dict.fromkeys(vocab))},
                             do_lower_case=True)


def tiny_encoder(vocab_size: int) -> BertModel:
    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64,
                                max_position_embeddings=64), add_pooling_layer=False)


def test_each_piece_takes_the_first_wordpiece_token_inside_it(wordpiece: Any) -> None:
    text = "Failed password for root from 192.0.2.7 port 2222 ssh2"
    pieces, _ = split_pieces(text, 63)
    enc = wordpiece(text, return_offsets_mapping=True)
    index = piece_token_index([(p.start, p.end) for p in pieces], enc["offset_mapping"])
    assert len(index) == len(pieces)
    for piece, token in zip(pieces, index, strict=True):
        start, end = enc["offset_mapping"][token]
        assert start == piece.start and end <= piece.end  # first sub-token of the piece
    ip = next(i for i, p in enumerate(pieces) if text[p.start:p.end] == "192.0.2.7")
    # The address is one piece for the student and several sub-tokens for the teacher.
    assert wordpiece.convert_ids_to_tokens(enc["input_ids"][index[ip]]) == "1"
    assert enc["offset_mapping"][index[ip] + 1][0] < pieces[ip].end


def test_alignment_falls_back_to_overlap_and_marks_truncated_pieces() -> None:
    # Token 1 spans "abcd" although the student cut "ab" | "cd"; token 2 is "e";
    # the piece at 10..12 lies past the last token (truncated teacher window).
    offsets = [(0, 0), (0, 4), (4, 5), (0, 0)]
    assert piece_token_index([(0, 2), (2, 4), (4, 5), (10, 12)], offsets) == [1, 1, 2, NO_TOKEN]


def test_kd_loss_is_zero_when_student_equals_teacher_and_grows_apart() -> None:
    torch.manual_seed(0)
    teacher = torch.randn(3, 5, 7)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [False] * 5])
    same = teacher.clone().requires_grad_(True)
    zero = kd_loss(same, teacher, mask, temperature=2.0)
    assert abs(float(zero.detach())) < 1e-6
    student = torch.randn(3, 5, 7, requires_grad=True)
    loss = kd_loss(student, teacher, mask, temperature=2.0)
    assert float(loss.detach()) > 0.01
    loss.backward()  # type: ignore[no-untyped-call]
    assert student.grad is not None
    assert float(student.grad[0].abs().sum()) > 0  # gradients flow to selected rows
    assert float(student.grad[2].abs().sum()) == 0  # and only to them
    # Masked-out rows do not count, whatever their logits.
    moved = student.detach().clone()
    moved[2] += 100.0
    assert torch.isclose(kd_loss(moved, teacher, mask, 2.0), loss.detach())


def test_kd_loss_scales_by_temperature_squared() -> None:
    torch.manual_seed(1)
    teacher, student = torch.randn(4, 6), torch.randn(4, 6)
    mask = torch.ones(4, dtype=torch.bool)
    raw = kd_loss(student, teacher, mask, 1.0)
    p = torch.softmax(teacher, -1)
    expected = (p * (torch.log_softmax(teacher, -1) - torch.log_softmax(student, -1))).sum(-1)
    assert torch.isclose(raw, expected.mean(), atol=1e-6)
    hot = kd_loss(student * 3.0, teacher * 3.0, mask, 3.0)  # same softened distributions
    assert torch.isclose(hot, raw * 9.0, rtol=1e-4)


def _kd_batch() -> dict[str, torch.Tensor]:
    """Two lines of four pieces, three tags. Line 0 is labelled, line 1 is not.
    Teacher: piece 0 sure of tag 1, piece 1 sure of tag 0, piece 2 unsure (top tag 2),
    piece 3 never seen by the teacher (past its window)."""
    sure1, sure0, unsure2 = [0.0, 6.0, 0.0], [6.0, 0.0, 0.0], [0.0, 0.2, 0.4]
    logits = torch.tensor([[sure1, sure0, unsure2, sure1]] * 2)
    return {
        "soft_tags": logits,
        "soft_mask": torch.tensor([[True, True, True, False]] * 2),
        # Line 0's hard tags: piece 0 agrees with the teacher, piece 1 does not (the
        # teacher says constant where the label says tag 2), piece 2 agrees.
        "tags": torch.tensor([[1, 2, 2, 1], [IGNORE] * 4]),
    }


def test_token_kd_modes_select_the_pieces_the_teacher_is_trusted_on() -> None:
    batch = _kd_batch()
    everything = token_kd_mask(batch, "all", 0.9)
    assert everything.tolist() == batch["soft_mask"].tolist()
    assert not bool(token_kd_mask(batch, "none", 0.9).any())
    # Confident: only the teacher's sure pieces, labelled or not.
    assert token_kd_mask(batch, "confident", 0.9).tolist() == [
        [True, True, False, False], [True, True, False, False]]
    # Agree: on labelled pieces the teacher's top tag must be the hard label (whatever its
    # confidence); on unlabelled ones it must be sure; never past its window.
    assert token_kd_mask(batch, "agree", 0.9).tolist() == [
        [True, False, True, False], [True, True, False, False]]
    with pytest.raises(ValueError):
        token_kd_mask(batch, "some", 0.9)


def test_distilled_loss_ignores_the_teacher_where_token_kd_is_none() -> None:
    # With token KD off, the soft term is the line distribution's alone: moving the
    # teacher's tag logits must not change it.
    labelled = examples(8, seed=4)
    tokenizer = LogTokenizer.build([e.text for e in labelled], max_words=200, min_count=1,
                                   max_pieces=63)
    config = replace(STUDENT, hidden=16, layers=1, heads=2, intermediate=32, token_kd="none",
                     dropout=0.0)
    network = LogTagger(NetworkConfig(n_words=tokenizer.vocab_size, n_shapes=208, n_spaces=4,
                                      hidden=16, layers=1, heads=2, intermediate=32,
                                      dropout=0.0, context=2), lean=False)
    init_weights(network)
    network.eval()
    batch = collate(encode_examples(labelled, tokenizer, network.config))
    size, length = batch["words"].shape
    torch.manual_seed(2)
    batch["soft_tags"] = torch.randn(size, length, len(network.config.tags))
    batch["soft_mask"] = batch["mask"].bool()
    batch["soft_actions"] = torch.randn(size, len(network.config.actions))
    batch["soft_lines"] = torch.ones(size, dtype=torch.bool)
    _, _, soft = distill_loss(network, batch, config)
    batch["soft_tags"] = batch["soft_tags"] * 5.0
    assert distill_loss(network, batch, config)[2] == pytest.approx(soft)
    config.token_kd = "all"
    assert distill_loss(network, batch, config)[2] != pytest.approx(soft)


def test_cached_stages_are_keyed_by_the_data_not_only_the_settings() -> None:
    labelled = examples(12, seed=1)
    base = Corpus(labelled, ["a line", "another line"], {})
    config = RunConfig()
    same = Corpus(examples(12, seed=1), ["a line", "another line"], {})
    assert _fingerprint(config, base) == _fingerprint(config, same)
    # A generator change (another text, or the same text labelled otherwise) is a new teacher.
    relabelled = examples(12, seed=1)
    relabelled[0].action = "login_failed"
    for changed in (Corpus(examples(12, seed=2), base.unlabelled, {}),
                    Corpus(relabelled, base.unlabelled, {})):
        assert _teacher_fingerprint(config, changed) != _teacher_fingerprint(config, base)
    # New unlabelled lines keep the teacher but not its cached logits (stored by row).
    more = Corpus(labelled, [*base.unlabelled, "third"], {})
    assert _teacher_fingerprint(config, more) == _teacher_fingerprint(config, base)
    assert _fingerprint(config, more) != _fingerprint(config, base)


def test_width_pruning_keeps_outputs_when_nothing_is_cut_and_layers_drop_cleanly() -> None:
    config = NetworkConfig(n_words=40, n_shapes=208, n_spaces=4, hidden=32, layers=2, heads=2,
                           intermediate=64)
    network = LogTagger(config, lean=False)
    init_weights(network)
    network.eval()
    ids = (torch.randint(3, 40, (2, 6)), torch.randint(0, 208, (2, 6)),
           torch.randint(0, 4, (2, 6)), torch.ones(2, 6, dtype=torch.long))
    tags, actions = network(*ids)
    same = prune_width(network, 64).eval()
    assert torch.allclose(same(*ids)[0], tags, atol=1e-6)
    narrow = prune_width(network, 16).eval()
    assert narrow.config.intermediate == 16
    bert: Any = narrow.bert
    assert bert.encoder.layer[0].intermediate.dense.weight.shape == (16, 32)
    shallow = prune_layers(network, [1]).eval()
    assert shallow.config.layers == 1
    assert shallow(*ids)[1].shape == actions.shape


def test_smoke_distillation_teacher_student_and_compression(
        wordpiece: Any, tmp_path: Path) -> None:
    labelled = examples(96, seed=1)
    unlabelled = [e.text for e in examples(64, seed=2)]
    # A random 1-layer encoder needs a high rate and many passes to route [CLS] attention.
    teacher_config = replace(TEACHER, seed=5, max_tokens=48, batch_size=16, epochs=40.0,
                             lr=5e-3, head_lr=5e-3, warmup=0.1, dropout=0.0, threads=1,
                             log_every=20, freeze_word_embeddings=False)
    result = train_teacher(labelled, tiny_encoder(wordpiece.vocab_size), wordpiece,
                           teacher_config)
    assert result.history[-1]["loss"] < result.history[0]["loss"] / 3
    save_teacher(tmp_path / "teacher", result, {"config": teacher_config.to_dict()})
    teacher, tokens, _ = load_teacher(tmp_path / "teacher")
    assert isinstance(tokens, TeacherTokens)

    soft_l = soft_targets(teacher, tokens, [e.text for e in labelled], batch_size=32)
    soft_u = soft_targets(teacher, tokens, unlabelled, batch_size=32)
    soft_u.save(tmp_path / "soft")
    reloaded = SoftTargets.load(tmp_path / "soft")
    assert len(reloaded) == len(unlabelled)
    assert np.array_equal(reloaded.offsets, soft_u.offsets)

    # The teacher, run through the engine's decoding, extracts the fields.
    analyzer = TeacherAnalyzer(teacher, tokens, cache_size=0)
    line = "Failed password for alice from 10.1.2.3 port 4242 ssh2"
    analysis = analyzer.analyze_batch([line])[0]
    assert analysis.fields.get("source.ip") == "10.1.2.3"
    fresh = examples(30, seed=9)
    got_actions = [a.action for a in analyzer.analyze_batch([e.text for e in fresh])]
    right = sum(a == e.action for a, e in zip(got_actions, fresh, strict=True))
    assert right >= 24, got_actions

    tiny = replace(STUDENT, seed=3, hidden=32, layers=1, heads=2, intermediate=64, steps=60,
                   batch_size=32, lr=5e-3, vocab_min_count=1, threads=1, log_every=1000)
    distilled = train_student(labelled, unlabelled, tiny, soft_l, soft_u)
    assert distilled.network.config.context == tiny.context == 2  # the shipped architecture
    control = train_student(labelled, unlabelled, TrainSettings(
        **{**tiny.to_dict(), "use_teacher": False}))
    assert distilled.steps == control.steps == 60
    assert distilled.history[-1]["soft"] > 0 and control.history[-1]["soft"] == 0
    assert distilled.tokenizer.vocab == control.tokenizer.vocab

    save_model(tmp_path / "student", distilled.network, distilled.tokenizer, {})
    student = ModelAnalyzer(load_model(tmp_path / "student"), cache_size=0)
    got = student.analyze_batch([line])[0]
    assert got.fields.get("user.name") == "alice"
    assert got.fields.get("source.ip") == "10.1.2.3"

    pruned = prune_width(distilled.network, 32)
    tuned = train_student(labelled, unlabelled, TrainSettings(**{**tiny.to_dict(), "steps": 10}),
                          soft_l, soft_u, network=pruned, tokenizer=distilled.tokenizer)
    save_model(tmp_path / "pruned", tuned.network, tuned.tokenizer, {})
    assert load_model(tmp_path / "pruned").config.intermediate == 32


def _random_soft(texts: list[str], seed: int) -> SoftTargets:
    """Teacher logits of the right shape for `texts` (one row per student piece)."""
    tokenizer = LogTokenizer.build(texts, max_words=50, min_count=1, max_pieces=63)
    counts = [len(tokenizer.encode(t).words) - 1 for t in texts]
    rng = np.random.default_rng(seed)
    tags = len(NetworkConfig(n_words=1, n_shapes=1, n_spaces=1).tags)
    actions = len(NetworkConfig(n_words=1, n_shapes=1, n_spaces=1).actions)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    return SoftTargets(rng.normal(size=(int(offsets[-1]), tags)).astype(np.float16),
                       np.ones(int(offsets[-1]), dtype=bool), offsets,
                       rng.normal(size=(len(texts), actions)).astype(np.float16))


def test_extra_unlabelled_batches_leave_the_controls_labelled_stream_intact() -> None:
    # With the teacher's weight at zero, a distilled student whose unlabelled lines come as
    # extra batches learns exactly what the control learns: same labelled batches, same steps.
    labelled = examples(48, seed=6)
    unlabelled = [e.text for e in examples(40, seed=7)]
    soft_l = _random_soft([e.text for e in labelled], 1)
    soft_u = _random_soft(unlabelled, 2)
    tiny = replace(STUDENT, seed=3, hidden=16, layers=1, heads=2, intermediate=32, steps=12,
                   batch_size=16, unlabelled_batch=8, vocab_min_count=1, threads=1,
                   dropout=0.0, kd_weight=0.0, log_every=1000)
    texts = [*(e.text for e in labelled), *unlabelled]
    control = train_student(labelled, [], replace(tiny, use_teacher=False), vocab_texts=texts)
    extra = train_student(labelled, unlabelled, tiny, soft_l, soft_u, vocab_texts=texts)
    mixed = train_student(labelled, unlabelled, replace(tiny, unlabelled_mode="mixed"), soft_l,
                          soft_u, vocab_texts=texts)
    same = [torch.equal(a, b) for a, b in zip(control.network.state_dict().values(),
                                              extra.network.state_dict().values(), strict=True)]
    assert all(same)
    assert extra.history[-1]["soft"] > 0  # the teacher's term was computed, weighted zero
    # Mixed into the labelled batches, the unlabelled lines change what each step sees.
    assert not all(torch.equal(a, b) for a, b in zip(
        control.network.state_dict().values(), mixed.network.state_dict().values(),
        strict=True))


def test_unsure_teacher_lines_are_not_distilled_under_a_line_confidence() -> None:
    labelled = examples(6, seed=8)
    tokenizer = LogTokenizer.build([e.text for e in labelled], max_words=200, min_count=1,
                                   max_pieces=63)
    network = LogTagger(NetworkConfig(n_words=tokenizer.vocab_size, n_shapes=208, n_spaces=4,
                                      hidden=16, layers=1, heads=2, intermediate=32,
                                      dropout=0.0, context=2), lean=False)
    init_weights(network)
    network.eval()
    batch = collate(encode_examples(labelled, tokenizer, network.config))
    size, length = batch["words"].shape
    batch["actions"][:] = IGNORE  # unlabelled lines
    batch["soft_tags"] = torch.zeros(size, length, len(network.config.tags))
    batch["soft_mask"] = torch.zeros(size, length, dtype=torch.bool)
    flat = torch.zeros(size, len(network.config.actions))
    batch["soft_actions"], batch["soft_lines"] = flat, torch.ones(size, dtype=torch.bool)
    config = replace(STUDENT, token_kd="none", line_kd_confidence=0.9)
    assert distill_loss(network, batch, config)[2] == 0.0  # a flat teacher is never sure
    sure = flat.clone()
    sure[:, 3] = 20.0
    batch["soft_actions"] = sure
    assert distill_loss(network, batch, config)[2] > 0.0
    config.line_kd_confidence = 0.0
    batch["soft_actions"] = flat
    assert distill_loss(network, batch, config)[2] > 0.0  # without the gate every line counts


def test_side_distillation_teaches_lines_longer_than_the_teachers_piece_limit(
        wordpiece: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `model train --teacher WORK` with the shipped open-vocabulary student: the student reads
    # 95 pieces, the teacher was trained on 63. A line of 64..95 pieces must still be taught.
    from logsentry.train.distill import side_loss
    from logsentry.train.loop import build_network, build_tokenizer

    teacher_config = replace(TEACHER, seed=5, max_tokens=48, batch_size=16, steps=2, threads=1,
                             freeze_word_embeddings=False)
    result = train_teacher(examples(16, seed=1), tiny_encoder(wordpiece.vocab_size), wordpiece,
                           teacher_config)
    save_teacher(tmp_path / "teacher", result, {"config": teacher_config.to_dict()})
    assert load_teacher(tmp_path / "teacher")[1].max_pieces == 63
    # Only the run's own lines: the distillation corpus of ../shared/datasets is not needed.
    monkeypatch.setattr(side_loss, "build_corpus", lambda seed, sizes: Corpus([], [], {}))
    long = "Failed password for alice from 10.1.2.3 port 4242 ssh2" + " k=v" * 20
    assert 63 < len(split_pieces(long, 95)[0]) < 95
    settings = replace(STUDENT, seed=3, max_pieces=95, ngram_buckets=64, hidden=16, layers=1,
                       heads=2, intermediate=32, vocab_min_count=1, threads=1, temperature=1.0,
                       line_kd_confidence=0.0, unlabelled_batch=4)
    make_loss, origin = side_loss.teacher_side_loss(tmp_path, 13, settings, print,
                                                    labelled=[long] * 4)
    assert origin["distinct_lines"] == 1  # a repeated line is labelled once
    tokenizer = build_tokenizer([long], settings)
    assert tokenizer.ngrams is not None  # the open-vocabulary student
    loss = make_loss(tokenizer)(build_network(tokenizer, settings))
    assert float(loss.detach()) > 0  # the teacher's line distribution reached the student


def test_teacher_only_run_leaves_the_teacher_and_trains_no_student(
        wordpiece: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `model distill --teacher-only`: what `model train --teacher WORK` needs, nothing more.
    from logsentry.train.distill import pipeline

    monkeypatch.setattr(pipeline, "load_pretrained",
                        lambda: (tiny_encoder(wordpiece.vocab_size), wordpiece))
    monkeypatch.setattr(pipeline, "build_corpus", lambda seed, sizes: Corpus(
        examples(32, seed=1), [e.text for e in examples(8, seed=2)], {"generated": 8}))
    config = RunConfig(seed=5, threads=1, evaluate=False, teacher_only=True,
                       teacher=replace(TEACHER, max_tokens=48, batch_size=16, steps=2,
                                       freeze_word_embeddings=False))
    doc = pipeline.run(config, tmp_path / "out", tmp_path / "work")
    teacher_dir = tmp_path / "work" / "teacher"
    assert doc["teacher"] == str(teacher_dir)
    assert load_teacher(teacher_dir)[0].tags == NetworkConfig(
        n_words=1, n_shapes=1, n_spaces=1).tags
    assert not (tmp_path / "work" / "soft").exists()  # no logits over the corpus
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json"]
