"""`logsentry model train|eval|data|distill ...`: the training toolkit's commands."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from typing import Any

from logsentry.analysis.tagger.location import DEFAULT_MODEL_NAME, files_size

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "models" / DEFAULT_MODEL_NAME
METRICS_FILE = "metrics.json"
# The data package: converters of the real datasets, and the held-out split.
REAL_DATA_MODULE = "logsentry.train.data.real"
SPLITS_MODULE = "logsentry.train.data.splits"
# Real fail2ban/CrowdSec lines are few but in real formats: each is seen this many times.
REAL_LABELLED_REPEAT = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `model` with its `train` and `eval` subcommands (and `data`, when present)."""
    model = subparsers.add_parser("model", help="train and evaluate the token-classification model")
    sub = model.add_subparsers(dest="model_command", required=True, metavar="MODEL_COMMAND")

    train = sub.add_parser("train", help="train the model on synthetic and real training data")
    train.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model folder to write")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--synthetic", type=int, default=100_000,
                       help="number of synthetic examples")
    train.add_argument("--no-real", action="store_true",
                       help="do not add the real training families of ../shared/datasets")
    train.add_argument("--epochs", type=float, default=2.0)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=1.5e-3)
    train.add_argument("--hidden", type=int, default=128)
    train.add_argument("--layers", type=int, default=2)
    train.add_argument("--heads", type=int, default=4)
    train.add_argument("--intermediate", type=int, default=256)
    train.add_argument("--context", type=int, default=2,
                       help="neighbour pieces mixed into each piece's embedding, each side")
    train.add_argument("--vocab-words", type=int, default=6000)
    train.add_argument("--ngram-buckets", type=int, default=0,
                       help="open vocabulary: hashed character 3- to 5-gram buckets embedded"
                            " beside each word (0: the closed vocabulary alone)")
    train.add_argument("--teacher-init", action="store_true",
                       help="start the word (and n-gram) tables from the pretrained"
                            " all-MiniLM-L6-v2 token embeddings, projected by PCA")
    train.add_argument("--word-dropout", type=_rate, default=0.0, metavar="P",
                       help="while training only, replace each ordinary vocabulary word by"
                            " <unk> at rate P (n-grams, shape and spacing kept), so the"
                            " network also learns to read words it has no row for"
                            " (default 0: off)")
    train.add_argument("--max-pieces", type=int, default=95,
                       help="pieces per line the model reads (the rest is one variable part)")
    train.add_argument("--threads", type=int, default=2)
    # No limit by default: a run stopped by the clock depends on the machine's speed, and
    # the card's command must give the same weights wherever it runs.
    train.add_argument("--max-minutes", type=float, default=None,
                       help="stop training (and still save) after this many minutes "
                            "(default: no limit)")
    train.add_argument("--no-eval", action="store_true",
                       help="skip the evaluation on ../shared/datasets after training")
    train.add_argument("--teacher", type=Path, metavar="WORK",
                       help="distil: add the fine-tuned teacher of `logsentry model distill"
                            " --work WORK` (line distributions on unlabelled lines)")
    train.add_argument("--temperature", type=float, default=1.0,
                       help="with --teacher: distillation temperature")
    train.add_argument("--line-kd-confidence", type=float, default=0.9,
                       help="with --teacher: distil a line only where the teacher's top action"
                            " is at least this likely")
    train.add_argument("--unlabelled-batch", type=int, default=32,
                       help="with --teacher: unlabelled lines added to every step")
    train.add_argument("--teach-labelled", action="store_true",
                       help="with --teacher: the side batches also draw from the training"
                            " lines themselves (the teacher's logits over all of them)")
    train.add_argument("--line-kd-head-only", action="store_true",
                       help="with --teacher: teach the line distributions to the line head"
                            " alone (the shared encoder learns from the hard labels only)")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "eval", help="evaluate a model on ../shared/datasets",
        description="Figures on every family (dev-all) and on the held-out split asked for:"
                    " validation (to decide on) or sealed (aggregates only, micro and macro;"
                    " report once per shipped model).")
    evaluate.add_argument("--split", choices=("validation", "sealed", "both"),
                          default="validation",
                          help="held-out split to report beside dev-all (default: validation)")
    evaluate.add_argument("--model", help="model folder (default: the shipped model)")
    evaluate.add_argument("--datasets", type=Path, help="datasets folder")
    evaluate.add_argument("--json", type=Path, help="also write the report as JSON here")
    evaluate.add_argument("--raw", action="store_true",
                          help="feed raw lines to the model (default: envelope parsing first,"
                               " as `logsentry analyze` does)")
    evaluate.set_defaults(func=cmd_eval)

    negatives = sub.add_parser(
        "false-positives", help="fail2ban negatives of TRAINING families read as offenses",
        description="Lists the fail2ban sample lines that are not matches but that the model"
                    " reads as offenses, on training families only: held-out (validation,"
                    " sealed) families are refused.")
    negatives.add_argument("--model", help="model folder (default: the shipped model)")
    negatives.add_argument("--datasets", type=Path, help="datasets folder")
    negatives.add_argument("--family", action="append", default=[],
                           help="only this training family (fail2ban:<filter>); repeatable")
    negatives.add_argument("--counts", action="store_true", help="counts only, no lines")
    negatives.set_defaults(func=cmd_false_positives)

    from logsentry.train.data.cli import register_data
    from logsentry.train.distill.cli import register_distill

    register_data(sub)
    register_distill(sub)


def _rate(text: str) -> float:
    """A probability below 1 (a rate of 1 would leave no word ever read as itself)."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a rate in [0, 1)")
    return value


def _optional_module(name: str) -> Any:
    try:
        return import_module(name)
    except ImportError:
        return None


def held_out_families(tier: str = "HELD_OUT") -> set[str]:
    """The real families kept out of training (`HELD_OUT`), or one tier of them
    (`HELD_OUT_UNSEEN`), as the data package defines them."""
    splits = _optional_module(SPLITS_MODULE)
    return set(getattr(splits, tier, ())) if splits is not None else set()


def real_training_examples(seed: int) -> list[Any]:
    """Labelled real lines of the training (not held-out) families, when the datasets exist;
    fail2ban and CrowdSec lines repeated `REAL_LABELLED_REPEAT` times."""
    real = _optional_module(REAL_DATA_MODULE)
    loader = getattr(real, "training_examples", None)
    if loader is None:
        return []
    held = held_out_families()
    examples: list[Any] = [e for e in loader(seed=seed) if e.family not in held]
    repeated = [e for e in examples if e.origin in ("fail2ban", "crowdsec")]
    return examples + repeated * (REAL_LABELLED_REPEAT - 1)


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    """Generate data, train, save, evaluate."""
    from logsentry.analysis.tagger.artifacts import load_model
    from logsentry.analysis.tagger.inference import ModelAnalyzer
    from logsentry.train.artifacts import save_model
    from logsentry.train.data.synthetic import generate
    from logsentry.train.evaluation import example_metrics
    from logsentry.train.loop import TrainSettings, train

    settings = TrainSettings(
        seed=args.seed, hidden=args.hidden, layers=args.layers, heads=args.heads,
        intermediate=args.intermediate, context=args.context, vocab_words=args.vocab_words,
        ngram_buckets=args.ngram_buckets, teacher_init=args.teacher_init, epochs=args.epochs,
        max_pieces=args.max_pieces, batch_size=args.batch_size, lr=args.lr, threads=args.threads,
        word_dropout=args.word_dropout,
        max_seconds=None if args.max_minutes is None else args.max_minutes * 60)
    started = time.monotonic()
    synthetic = generate(args.synthetic, args.seed)
    rng = random.Random(args.seed)
    rng.shuffle(synthetic)
    dev_size = min(3000, len(synthetic) // 20)
    dev, train_set = synthetic[:dev_size], synthetic[dev_size:]
    real = [] if args.no_real else real_training_examples(args.seed)
    corpus = train_set + real
    rng.shuffle(corpus)
    _say(f"data: {len(train_set)} synthetic + {len(real)} real training examples,"
         f" {len(dev)} dev, {time.monotonic() - started:.0f}s")
    side_loss = None
    distilled: dict[str, Any] | None = None
    if args.teacher is not None:
        from logsentry.train.distill.side_loss import teacher_side_loss

        settings = replace(settings, use_teacher=True, temperature=args.temperature,
                           line_kd_confidence=args.line_kd_confidence,
                           unlabelled_batch=args.unlabelled_batch, token_kd="none",
                           line_kd_head_only=args.line_kd_head_only)
        side_loss, distilled = teacher_side_loss(
            args.teacher, args.seed, settings, _say,
            labelled=[e.text for e in corpus] if args.teach_labelled else ())
    result = train(corpus, settings, progress=_say, side_loss=side_loss)
    out: Path = args.out
    staging = out.with_name(out.name + ".staging")
    if staging.exists():
        shutil.rmtree(staging)
    meta: dict[str, Any] = {
        "training": settings.to_dict(), "steps": result.steps,
        "train_seconds": round(result.seconds, 1), "synthetic_examples": len(train_set),
        "real_examples": len(real), "held_out": sorted(held_out_families()),
    }
    if distilled is not None:
        meta["distilled_from"] = distilled
    save_model(staging, result.network, result.tokenizer, meta)
    meta["dev_fp32"] = example_metrics(ModelAnalyzer(load_model(staging), cache_size=0), dev)
    _say(f"dev fp32 {meta['dev_fp32']}")
    save_model(staging, result.network, result.tokenizer, meta)
    if out.exists():
        # Keep a hand-written model card across retraining.
        card = out / "README.md"
        if card.is_file():
            shutil.copy2(card, staging / "README.md")
        shutil.rmtree(out)
    staging.rename(out)
    _say(f"saved {out} ({files_size(out) / 1e6:.1f} MB)")
    if not args.no_eval:
        return _evaluate_and_write(out, None, None, False, split="validation")
    return 0


def _evaluate_and_write(
    model_dir: Path, datasets: Path | None, json_out: Path | None, raw: bool,
    split: str = "both",
) -> int:
    """Evaluate; write `metrics.json` beside a shipped model when every split was run."""
    from logsentry.analysis.tagger.artifacts import load_model
    from logsentry.analysis.tagger.inference import ModelAnalyzer, configure_threads
    from logsentry.train.evaluation import evaluate, format_report

    configure_threads(None)
    loaded = load_model(model_dir)
    analyzer = ModelAnalyzer(loaded)
    from logsentry.train.data.splits import SEALED, VALIDATION

    subsets: dict[str, frozenset[str]] = {}
    if split in ("validation", "both"):
        subsets["validation"] = VALIDATION
    if split in ("sealed", "both"):
        subsets["sealed"] = SEALED
    report = evaluate(analyzer, subsets, datasets, progress=_say, envelope=not raw)
    print(format_report(report))
    doc = report.to_dict()
    if datasets is None:
        doc["datasets"] = "../shared/datasets"  # where it lies beside any checkout
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if (model_dir.resolve().is_relative_to(REPO_ROOT) and not raw
            and datasets is None and split == "both"):
        (model_dir / METRICS_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


def cmd_false_positives(args: argparse.Namespace) -> int:
    """Print the training families' fail2ban negatives the model reads as offenses."""
    from logsentry.analysis.tagger.artifacts import load_model
    from logsentry.analysis.tagger.inference import ModelAnalyzer, configure_threads
    from logsentry.analysis.tagger.location import default_model_dir
    from logsentry.train.data.real import datasets_root
    from logsentry.train.evaluation import read_fail2ban
    from logsentry.train.false_positives import (
        HeldOutFamilyError,
        format_false_positives,
        training_false_positives,
        training_only,
    )

    records = read_fail2ban(args.datasets or datasets_root())
    try:
        records = training_only(records, args.family)
    except HeldOutFamilyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_threads(None)
    model_dir = Path(args.model) if args.model else default_model_dir()
    analyzer = ModelAnalyzer(load_model(model_dir))
    found = training_false_positives(analyzer, records)
    print(format_false_positives(found, show_lines=not args.counts))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a model folder on the shared datasets."""
    from logsentry.analysis.tagger.location import default_model_dir

    model_dir = Path(args.model) if args.model else default_model_dir()
    return _evaluate_and_write(model_dir, args.datasets, args.json, args.raw,
                               args.split)
