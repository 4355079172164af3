"""Training on a tiny configuration: seconds long, so the training code keeps working."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.inference import ModelAnalyzer
from logsentry.analysis.tagger.network import TAGS, NetworkConfig
from logsentry.analysis.tagger.tokenizer import (
    CLS,
    N_SHAPES,
    N_SPACES,
    PAD,
    SPECIALS,
    UNK,
    LogTokenizer,
)
from logsentry.train.artifacts import save_model
from logsentry.train.evaluation import example_metrics
from logsentry.train.example import Example, ExampleBuilder
from logsentry.train.loop import (
    IGNORE,
    STUDENT,
    TrainSettings,
    collate,
    drop_words,
    encode_examples,
    network_outputs,
    piece_tags,
    train,
)
from logsentry.train.network import LogTagger, init_weights, local_context

USERS = ("root", "admin", "bob", "alice", "oracle", "test", "git", "deploy")


def hand_examples(n: int, seed: int) -> list[Example]:
    """A few hand-written families, enough for a smoke training."""
    rng = random.Random(seed)
    out: list[Example] = []
    for i in range(n):
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        user = rng.choice(USERS)
        port = str(rng.randint(1024, 65535))
        b = ExampleBuilder()
        kind = i % 4
        if kind == 0:
            out.append(b.const("Failed password for ").var(user, "user.name").const(" from ")
                       .var(ip, "source.ip").const(" port ").var(port, "source.port")
                       .const(" ssh2").build("ssh_login_failed", "openssh"))
        elif kind == 1:
            out.append(b.const("Accepted publickey for ").var(user, "user.name")
                       .const(" from ").var(ip, "source.ip").const(" port ")
                       .var(port, "source.port").const(" ssh2")
                       .build("ssh_login_success", "openssh"))
        elif kind == 2:
            out.append(b.var(ip, "source.ip").const(' - - [')
                       .var("10/Oct/2000:13:55:36 -0700", "timestamp").const('] "')
                       .var("GET", "http.request.method").const(" ")
                       .var(f"/index.php?id={i}", "url.original").const(' HTTP/1.1" ')
                       .var(rng.choice(["200", "404"]), "http.response.status_code")
                       .const(" ").var(str(rng.randint(1, 9999)))
                       .build("web_request", "nginx_access"))
        else:
            out.append(b.const("pam_unix(sudo:session): session opened for user ")
                       .var(user, "user.name").const(" by (uid=")
                       .var(str(rng.randint(0, 1000))).const(")")
                       .build("session_opened", "pam"))
    return out


TINY = TrainSettings(seed=3, hidden=32, layers=1, heads=2, intermediate=64, epochs=25,
                     batch_size=32, lr=5e-3, vocab_min_count=1, threads=1, log_every=1000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = train(hand_examples(320, seed=1), TINY)
    path = tmp_path_factory.mktemp("trained") / "model"
    save_model(path, result.network, result.tokenizer, {"quantize": False})
    return path


def test_piece_tags_follow_spans_in_bio() -> None:
    example = (ExampleBuilder().const("ua=").var("Mozilla/5.0 (X11)", "user_agent.original")
               .const(" ok").build("other", "x"))
    tokenizer = LogTokenizer.build([example.text], min_count=1)
    encoded = tokenizer.encode(example.text)
    tags = [TAGS[t] for t in piece_tags(example, encoded, {t: i for i, t in enumerate(TAGS)})]
    words = [example.text[p.start:p.end] for p in encoded.pieces]
    assert words[0] == "ua" and tags[0] == "O"
    assert tags[2] == "B-user_agent.original"
    assert all(t == "I-user_agent.original" for t in tags[3:-1])
    assert tags[-1] == "O"


def test_smoke_training_learns_the_hand_families(trained: Path) -> None:
    analyzer = ModelAnalyzer(load_model(trained), cache_size=0)
    metrics = example_metrics(analyzer, hand_examples(80, seed=99))
    assert metrics["action_accuracy"] >= 0.9
    assert metrics["entity_f1"] >= 0.8
    result = analyzer.analyze_batch(["Failed password for deploy from 10.9.8.7 port 4242 ssh2"])[0]
    assert result.action == "ssh_login_failed"
    assert result.fields.get("source.ip") == "10.9.8.7"


def test_training_is_reproducible_with_a_seed() -> None:
    config = TrainSettings(**{**TINY.to_dict(), "epochs": 1.0})
    examples = hand_examples(64, seed=5)
    a = train(examples, config)
    b = train(examples, config)
    for (name, x), (_, y) in zip(a.network.state_dict().items(), b.network.state_dict().items(),
                                 strict=True):
        assert torch.equal(x, y), name


def test_roles_unknown_examples_train_only_constant_versus_variable() -> None:
    example = (ExampleBuilder().const("Receiving block ").var("blk_123").const(" src ")
               .var("10.0.0.1").build("other", "loghub:HDFS", origin="loghub",
                                      action_known=False, roles_known=False))
    result = train([example] * 8, TrainSettings(**{**TINY.to_dict(), "epochs": 1.0}))
    assert result.steps >= 1 and result.final_loss == result.final_loss  # not NaN


@pytest.mark.parametrize("context", [0, 1])
def test_lean_network_matches_transformers_bert(context: int) -> None:
    torch.manual_seed(0)
    config = NetworkConfig(n_words=40, n_shapes=N_SHAPES, n_spaces=N_SPACES, hidden=32,
                           layers=2, heads=4, intermediate=64, context=context)
    reference = LogTagger(config, lean=False)
    init_weights(reference)
    reference.eval()
    lean = LogTagger(config, lean=True)
    lean.load_state_dict(reference.state_dict())
    lean.eval()
    words = torch.randint(1, 40, (3, 9))
    shapes = torch.randint(0, N_SHAPES, (3, 9))
    spaces = torch.randint(0, N_SPACES, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 5:] = 0
    with torch.inference_mode():
        tags_a, actions_a = reference(words, shapes, spaces, mask)
        tags_b, actions_b = lean(words, shapes, spaces, mask)
    real = mask.bool()
    assert torch.allclose(tags_a[real], tags_b[real], atol=1e-5)
    assert torch.allclose(actions_a, actions_b, atol=1e-5)


def test_local_context_gives_a_line_the_same_outputs_alone_and_padded_in_a_batch() -> None:
    torch.manual_seed(0)
    config = NetworkConfig(n_words=40, n_shapes=N_SHAPES, n_spaces=N_SPACES, hidden=32,
                           layers=1, heads=4, intermediate=64, context=2)
    network = LogTagger(config, lean=True)
    init_weights(network)
    network.eval()
    words = torch.randint(1, 40, (1, 6))
    shapes = torch.randint(1, N_SHAPES, (1, 6))
    spaces = torch.randint(0, N_SPACES, (1, 6))
    pad = torch.zeros((1, 4), dtype=torch.long)
    with torch.inference_mode():
        alone, _ = network(words, shapes, spaces, torch.ones((1, 6), dtype=torch.long))
        padded, _ = network(torch.cat([words, pad], 1), torch.cat([shapes, pad + 3], 1),
                            torch.cat([spaces, pad], 1),
                            torch.cat([torch.ones((1, 6), dtype=torch.long), pad], 1))
    assert torch.allclose(alone, padded[:, :6], atol=1e-5)


def test_local_context_puts_each_neighbour_beside_the_piece() -> None:
    embeds = torch.arange(1.0, 4.0).reshape(1, 3, 1)  # pieces 1, 2, 3 of width 1
    mask = torch.ones((1, 3), dtype=torch.long)
    mixed = local_context(embeds, mask, 1)
    assert mixed[0].tolist() == [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 0.0]]


def test_pieces_outside_partial_spans_carry_no_token_loss() -> None:
    example = (ExampleBuilder().const("Failed password for root from ").var("1.2.3.4", "source.ip")
               .const(" port 22").build("ssh_login_failed", "fail2ban:sshd", origin="fail2ban"))
    assert not example.spans_complete
    tokenizer = LogTokenizer.build([example.text], min_count=1)
    tags = piece_tags(example, tokenizer.encode(example.text),
                      {t: i for i, t in enumerate(TAGS)})
    assert tags.count(IGNORE) == len(tags) - 1
    assert TAGS[tags[5]] == "B-source.ip"


def test_a_side_loss_is_added_at_every_step_with_the_runs_tokenizer() -> None:
    calls: list[int] = []
    seen: list[LogTokenizer] = []

    def side(tokenizer: LogTokenizer) -> Callable[[LogTagger], torch.Tensor]:
        seen.append(tokenizer)

        def loss(network: LogTagger) -> torch.Tensor:
            calls.append(1)
            # A term that pulls every weight towards zero: it must change the result.
            return 0.5 * torch.stack([p.pow(2).sum() for p in network.parameters()]).sum()

        return loss

    config = TrainSettings(**{**TINY.to_dict(), "epochs": 2})
    examples = hand_examples(64, 5)
    plain = train(examples, config)
    with_side = train(examples, config, side_loss=side)
    assert seen == [with_side.tokenizer]
    assert len(calls) == with_side.steps == plain.steps
    def norm(network: LogTagger) -> float:
        return float(torch.stack([p.detach().pow(2).sum() for p in network.parameters()]).sum())

    assert norm(with_side.network) < norm(plain.network)


def test_distilling_without_a_teacher_in_the_work_folder_says_what_to_run(tmp_path: Path) -> None:
    from logsentry.train.distill.side_loss import TeacherMissing, teacher_side_loss

    with pytest.raises(TeacherMissing, match="logsentry model distill"):
        teacher_side_loss(tmp_path, 13, STUDENT, print)


def test_head_only_line_distillation_moves_the_line_head_and_never_the_encoder() -> None:
    from logsentry.train.distill.side_loss import head_only_line_loss
    from logsentry.train.loop import collate, encode_examples

    examples = hand_examples(8, 3)
    tokenizer = LogTokenizer.build([e.text for e in examples], min_count=1)
    config = NetworkConfig(n_words=tokenizer.vocab_size, n_shapes=N_SHAPES, n_spaces=N_SPACES,
                           hidden=16, layers=1, heads=2, intermediate=32, context=1)
    network = LogTagger(config, lean=False)
    init_weights(network)
    batch = collate(encode_examples(examples, tokenizer, config))
    # A teacher sure of one action for every line.
    batch["soft_actions"] = torch.full((len(examples), len(config.actions)), -10.0)
    batch["soft_actions"][:, 1] = 10.0
    batch["soft_lines"] = torch.ones(len(examples), dtype=torch.bool)
    loss = head_only_line_loss(network, batch, replace(STUDENT, line_kd_confidence=0.9))
    assert float(loss.detach()) > 0
    loss.backward()  # type: ignore[no-untyped-call]
    assert network.action_head.weight.grad is not None
    assert float(network.action_head.weight.grad.abs().sum()) > 0
    encoder = [p for name, p in network.named_parameters() if not name.startswith("action_head")]
    assert all(p.grad is None for p in encoder)


def test_word_dropout_turns_only_ordinary_words_into_unk_at_about_its_rate() -> None:
    first_word = len(SPECIALS)
    ipv4 = SPECIALS.index("<ipv4>")
    words = torch.tensor([[CLS, UNK, ipv4, *range(first_word, first_word + 997), PAD]] * 40)
    dropped = drop_words(words, 0.25, torch.Generator().manual_seed(1))
    ordinary = words >= first_word
    changed = dropped != words
    assert bool((dropped[changed] == UNK).all())
    assert not bool(changed[~ordinary].any())  # [CLS], <unk>, <ipv4>, [PAD] stay
    assert abs(float(changed[ordinary].float().mean()) - 0.25) < 0.01
    again = drop_words(words, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(dropped, again)


def _words_seen(settings: TrainSettings, examples: list[Example],
                ) -> tuple[list[torch.Tensor], list[torch.Tensor], LogTagger]:
    """The word ids the network was given while training and then when evaluated on
    `examples` after training."""
    seen: list[torch.Tensor] = []
    evaluated: list[torch.Tensor] = []

    def side(tokenizer: LogTokenizer) -> Callable[[LogTagger], torch.Tensor]:
        def record(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            (evaluated if not module.training else seen).append(args[0].clone())

        hooked: list[LogTagger] = []

        def loss(network: LogTagger) -> torch.Tensor:
            if not hooked:  # after the first step's forward: its words are read below
                network.register_forward_pre_hook(record)
                hooked.append(network)
            return torch.zeros(())

        return loss

    result = train(examples, settings, side_loss=side)
    items = encode_examples(examples, result.tokenizer, result.network.config)
    with torch.no_grad():
        network_outputs(result.network, collate(items))
    return seen, evaluated, result.network


def test_word_dropout_acts_on_training_batches_and_never_in_evaluation() -> None:
    examples = hand_examples(64, 5)  # every word in the vocabulary (min count 1): no <unk>

    def unk_share(batches: list[torch.Tensor]) -> float:
        words = torch.cat([b.flatten() for b in batches])
        wordy = (words >= len(SPECIALS)) | (words == UNK)
        return float((words[wordy] == UNK).float().mean())

    config = TrainSettings(**{**TINY.to_dict(), "epochs": 4.0, "word_dropout": 0.3})
    seen, evaluated, _ = _words_seen(config, examples)
    assert len(seen) >= 4 and len(evaluated) == 1
    assert 0.25 < unk_share(seen) < 0.35
    assert unk_share(evaluated) == 0.0
    plain_seen, _, _ = _words_seen(replace(config, word_dropout=0.0), examples)
    assert unk_share(plain_seen) == 0.0


def test_word_dropout_is_reproducible_with_a_seed_and_changes_the_weights() -> None:
    config = TrainSettings(**{**TINY.to_dict(), "epochs": 1.0, "word_dropout": 0.25})
    examples = hand_examples(64, seed=5)
    a = train(examples, config).network.state_dict()
    b = train(examples, config).network.state_dict()
    plain = train(examples, replace(config, word_dropout=0.0)).network.state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert not all(torch.equal(a[name], plain[name]) for name in a)
