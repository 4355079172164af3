"""`logsentry model distill`: teacher, students and compression from one seed."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

DEFAULT_WORK = Path("/tmp/logsentry-distill")


def register_distill(model_subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                     ) -> None:
    """Add `distill` to the `logsentry model` subcommands."""
    p = model_subparsers.add_parser(
        "distill", help="fine-tune the teacher, distill and compress the student, measure all")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", type=Path, required=True,
                   help="folder for the students, report.json and DISTILLATION.md")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK,
                   help="folder for the teacher and its cached logits (kept out of the repo)")
    p.add_argument("--synthetic", type=int, help="synthetic labelled examples")
    p.add_argument("--unlabelled-real", type=int, help="real unlabelled lines (training families)")
    p.add_argument("--unlabelled-generated", type=int, help="generated unlabelled lines")
    p.add_argument("--teacher-epochs", type=float, help="passes of the teacher over the labels")
    p.add_argument("--teacher-lr", type=float, help="learning rate of the pretrained encoder")
    p.add_argument("--steps", type=int, help="student steps (control and distilled alike)")
    p.add_argument("--temperature", type=float, help="distillation temperature")
    p.add_argument("--context", type=int,
                   help="students' local-context radius (default 2, the shipped network's;"
                        " 0: the first published table's students)")
    p.add_argument("--token-kd", choices=("all", "agree", "confident", "none"),
                   help="pieces distilled from the teacher's tags (default none: the line"
                        " head only; agree: where its top tag is the hard label, or confident"
                        " on unlabelled lines; all: the first published table's recipe)")
    p.add_argument("--unlabelled-mode", choices=("extra", "mixed"),
                   help="extra (default): every step adds a batch of unlabelled lines to the"
                        " control's labelled batch; mixed: unlabelled lines shuffled into the"
                        " labelled batches (the first published table's recipe)")
    p.add_argument("--unlabelled-batch", type=int,
                   help="unlabelled lines added per step under --unlabelled-mode extra")
    p.add_argument("--kd-weight", type=float, help="weight of the distillation terms")
    p.add_argument("--line-kd-confidence", type=float,
                   help="distil an unlabelled line's action only where the teacher's top action"
                        " is at least this likely (0: every line)")
    p.add_argument("--kd-confidence", type=float,
                   help="teacher top-tag probability that counts as confident (default 0.9)")
    p.add_argument("--prune-width", type=int, help="feed-forward neurons kept (0: no pruning)")
    p.add_argument("--finetune-steps", type=int, help="distillation steps after pruning")
    p.add_argument("--threads", type=int, default=2,
                   help="torch threads of the teacher and of the speed measurements")
    p.add_argument("--student-threads", type=int, default=2,
                   help="torch threads of student training (1 on a busy machine)")
    p.add_argument("--reference", type=Path, help="a shipped model folder to measure beside")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    p.add_argument("--teacher-only", action="store_true",
                   help="fine-tune the teacher into WORK and stop (what `model train --teacher"
                        " WORK` needs); no logits, students or measurements")
    p.set_defaults(func=cmd_distill)


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cmd_distill(args: argparse.Namespace) -> int:
    """Run the whole distillation and print the table."""
    from logsentry.train.distill.card import table
    from logsentry.train.distill.pipeline import RunConfig, run

    config = RunConfig(seed=args.seed, threads=args.threads, evaluate=not args.no_eval,
                       teacher_only=args.teacher_only)
    config.teacher = replace(config.teacher, seed=args.seed, threads=args.threads)
    if args.synthetic is not None:
        config.sizes.synthetic = args.synthetic
    if args.unlabelled_real is not None:
        config.sizes.unlabelled_real = args.unlabelled_real
    if args.unlabelled_generated is not None:
        config.sizes.unlabelled_generated = args.unlabelled_generated
    if args.teacher_epochs is not None:
        config.teacher.epochs = args.teacher_epochs
    config.student.threads = args.student_threads
    if args.teacher_lr is not None:
        config.teacher.lr = args.teacher_lr
    if args.steps is not None:
        config.student.steps = args.steps
    if args.temperature is not None:
        config.student.temperature = args.temperature
    if args.context is not None:
        config.student.context = args.context
    if args.token_kd is not None:
        config.student.token_kd = args.token_kd
    if args.unlabelled_mode is not None:
        config.student.unlabelled_mode = args.unlabelled_mode
    if args.unlabelled_batch is not None:
        config.student.unlabelled_batch = args.unlabelled_batch
    if args.kd_weight is not None:
        config.student.kd_weight = args.kd_weight
    if args.line_kd_confidence is not None:
        config.student.line_kd_confidence = args.line_kd_confidence
    if args.kd_confidence is not None:
        config.student.kd_confidence = args.kd_confidence
    if args.prune_width is not None:
        config.prune_width = args.prune_width or None
    if args.finetune_steps is not None:
        config.finetune_steps = args.finetune_steps
    doc = run(config, args.out, args.work, progress=_say, reference=args.reference)
    if config.teacher_only:
        print(json.dumps({"teacher": doc["teacher"], "corpus": doc["corpus"]}, indent=1))
        return 0
    print(table(doc))
    print(json.dumps({k: v.get("held_out") for k, v in doc["models"].items()}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m logsentry.train.distill.cli ...`: the distillation commands alone."""
    parser = argparse.ArgumentParser(prog="logsentry model")
    sub = parser.add_subparsers(dest="model_command", required=True)
    register_distill(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
