"""One reproducible distillation run: teacher, control student, distilled student, compression,
and the measurements of each, from one seed.

Stages write into two folders: `work` (large or cached things that never enter
the repository: the fine-tuned teacher, its logits over the corpus, the
held-out copy of the datasets) and `out` (the students, each a loadable model
folder of a few MB, and `report.json` / `DISTILLATION.md` with the table). A
stage whose output is already in `work` for the same seed and sizes is loaded
instead of recomputed, so an interrupted run resumes. Cached stages are keyed by
the settings *and* a digest of the data they saw (`corpus_digest`): a change of
the generator or of the datasets retrains the teacher and recomputes its logits
(which are stored by row, so logits of another corpus would be silently wrong).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.location import files_size
from logsentry.train.artifacts import load_tagger, save_model
from logsentry.train.distill.compression import prune_layers, prune_width
from logsentry.train.distill.corpus import Corpus, CorpusSizes, build_corpus
from logsentry.train.distill.measure import (
    held_out_datasets,
    held_out_report,
    lines_per_second,
    summary,
    unique_bodies,
)
from logsentry.train.distill.student import train_student
from logsentry.train.distill.teacher import (
    TEACHER_FILE,
    SoftTargets,
    TeacherResult,
    load_pretrained,
    load_teacher,
    save_teacher,
    soft_targets,
    train_teacher,
)
from logsentry.train.loop import STUDENT, TEACHER, TrainingResult, TrainSettings
from logsentry.train.network import parameter_count

log = logging.getLogger(__name__)

REPORT_FILE = "report.json"
CARD_FILE = "DISTILLATION.md"


@dataclass(slots=True)
class RunConfig:
    """Everything a run depends on; `seed` drives every random choice."""

    seed: int = 13
    sizes: CorpusSizes = field(default_factory=CorpusSizes)
    teacher: TrainSettings = field(default_factory=lambda: replace(TEACHER))
    student: TrainSettings = field(default_factory=lambda: replace(STUDENT))
    prune_width: int | None = 128  # feed-forward neurons kept per layer; None: no width pruning
    prune_layers: list[int] | None = None  # encoder layers kept; None: no layer pruning
    finetune_steps: int = 300  # distillation steps after pruning
    speed_lines: int = 3000  # unique lines timed per student
    teacher_speed_lines: int = 400  # the teacher is slow: fewer lines
    threads: int = 2
    evaluate: bool = True
    # Stop after the teacher: `model train --teacher WORK` needs only `WORK/teacher`, and the
    # teacher's logits over this run's corpus and the students cost more than the teacher.
    teacher_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[str], None]


def corpus_digest(corpus: Corpus) -> dict[str, str]:
    """SHA-256 of the labelled set (texts, spans, actions, in order) and of the unlabelled lines."""
    labelled = hashlib.sha256()
    for example in corpus.labelled:
        labelled.update(json.dumps(
            [example.text, [s.to_list() for s in example.spans], example.action,
             example.roles_known, example.action_known], ensure_ascii=True).encode("ascii"))
        labelled.update(b"\n")
    unlabelled = hashlib.sha256()
    for line in corpus.unlabelled:
        unlabelled.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return {"labelled": labelled.hexdigest()[:16], "unlabelled": unlabelled.hexdigest()[:16]}


def _fingerprint(config: RunConfig, corpus: Corpus) -> dict[str, Any]:
    return {"seed": config.seed, "sizes": asdict(config.sizes), "teacher": config.teacher.to_dict(),
            "data": corpus_digest(corpus)}


def _teacher_fingerprint(config: RunConfig, corpus: Corpus) -> dict[str, Any]:
    # The teacher never sees the unlabelled lines: a new unlabelled corpus keeps it.
    fingerprint = _fingerprint(config, corpus)
    fingerprint["data"] = {"labelled": fingerprint["data"]["labelled"]}
    return fingerprint


def teacher_stage(config: RunConfig, corpus: Corpus, work: Path, say: Progress) -> Path:
    """Fine-tune the teacher, or reuse the one in `work` trained with the same settings."""
    folder = work / "teacher"
    fingerprint = _teacher_fingerprint(config, corpus)
    marker = folder / TEACHER_FILE
    if marker.is_file():
        meta = json.loads(marker.read_text(encoding="utf-8")).get("meta", {})
        if meta.get("fingerprint") == fingerprint:
            say(f"teacher: reusing {folder}")
            return folder
    encoder, tokenizer = load_pretrained()
    result: TeacherResult = train_teacher(corpus.labelled, encoder, tokenizer,
                                          config.teacher, progress=say)
    if folder.exists():
        shutil.rmtree(folder)
    save_teacher(folder, result, {
        "fingerprint": fingerprint, "config": config.teacher.to_dict(), "steps": result.steps,
        "train_seconds": round(result.seconds, 1), "examples": len(corpus.labelled),
        "history": result.history})
    return folder


def soft_stage(
    config: RunConfig, corpus: Corpus, teacher_dir: Path, work: Path, say: Progress,
) -> tuple[SoftTargets, SoftTargets]:
    """The teacher's logits over the labelled set and the unlabelled corpus (cached in `work`)."""
    folder = work / "soft"
    fingerprint = _fingerprint(config, corpus)
    stamp = folder / "fingerprint.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == fingerprint:
        say(f"teacher logits: reusing {folder}")
        return SoftTargets.load(folder / "labelled"), SoftTargets.load(folder / "unlabelled")
    teacher, tokens, _ = load_teacher(teacher_dir)
    window = config.teacher.infer_max_tokens
    labelled = soft_targets(teacher, tokens, [e.text for e in corpus.labelled],
                            max_tokens=window, progress=say)
    unlabelled = soft_targets(teacher, tokens, corpus.unlabelled, max_tokens=window,
                              progress=say)
    labelled.save(folder / "labelled")
    unlabelled.save(folder / "unlabelled")
    stamp.write_text(json.dumps(fingerprint), encoding="utf-8")
    return labelled, unlabelled


def _save_student(path: Path, result: TrainingResult, meta: dict[str, Any]) -> None:
    if path.exists():
        shutil.rmtree(path)
    save_model(path, result.network, result.tokenizer, meta)


def student_stage(
    path: Path, fingerprint: dict[str, Any], kind: str, say: Progress,
    train: Callable[[], TrainingResult],
) -> TrainingResult:
    """Train a student and save it to `path`, or reload the one there trained with the same
    settings (as a trainable network, for pruning)."""
    config_file = path / "config.json"
    if config_file.is_file():
        meta = json.loads(config_file.read_text(encoding="utf-8")).get("meta", {})
        if meta.get("fingerprint") == fingerprint:
            say(f"{kind}: reusing {path}")
            network, tokenizer = load_tagger(path, lean=False)
            for parameter in network.parameters():
                parameter.requires_grad_(True)
            return TrainingResult(network, tokenizer, int(meta.get("steps", 0)),
                                 float(meta.get("train_seconds", 0.0)))
    result = train()
    _save_student(path, result, {
        "distill": kind, "fingerprint": fingerprint, "training": fingerprint["student"],
        "steps": result.steps, "train_seconds": round(result.seconds, 1),
        "history": result.history})
    return result


class Recorder:
    """The run's report, written after every stage so partial runs leave their figures."""

    def __init__(self, out: Path, config: RunConfig, work: Path, say: Progress) -> None:
        self.out = out
        self.say = say
        self.doc: dict[str, Any] = {"config": config.to_dict(), "models": {}}
        self.threads = config.threads
        self.datasets = held_out_datasets(work / "held_out_datasets") if config.evaluate else None
        self.bodies = unique_bodies(max(config.speed_lines, config.teacher_speed_lines))
        self.config = config

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / REPORT_FILE).write_text(json.dumps(self.doc, indent=2) + "\n",
                                            encoding="utf-8")

    def measure(self, name: str, analyzer: Any, fresh: Callable[[], Any], parameters: int,
                size: int, lines: int, extra: dict[str, Any]) -> dict[str, Any]:
        """Speed of a cache-less analyzer from `fresh()`, held-out figures of `analyzer`."""
        torch.set_num_threads(self.threads)
        entry: dict[str, Any] = {"parameters": parameters, "file_bytes": size, **extra}
        entry["lines_per_s"] = round(lines_per_second(fresh(), self.bodies[:lines]), 1)
        self.say(f"{name}: {entry['lines_per_s']} unique lines/s")
        if self.datasets is not None:
            started = time.monotonic()
            report = held_out_report(analyzer, self.datasets).to_dict()
            entry["held_out"] = summary(report)
            entry["eval_seconds"] = round(time.monotonic() - started, 1)
            entry["report"] = report
            self.say(f"{name}: {entry['held_out']}")
        self.doc["models"][name] = entry
        self.write()
        return entry

    def student(self, name: str, folder: Path, extra: dict[str, Any]) -> None:
        from logsentry.analysis.tagger.inference import ModelAnalyzer, configure_threads

        configure_threads(self.threads)
        loaded = load_model(folder)
        self.measure(
            name, ModelAnalyzer(loaded), lambda: ModelAnalyzer(loaded, cache_size=0),
            loaded.network.parameters, files_size(folder), self.config.speed_lines,
            {"folder": str(folder), **extra})


def run(config: RunConfig, out: Path, work: Path, progress: Progress | None = None,
        reference: Path | None = None) -> dict[str, Any]:
    """Teacher, control and distilled students, compression; every model measured; the report
    (also written to `out/report.json`) returned. `reference`: a shipped model to measure beside."""
    say = progress or log.info
    started = time.monotonic()
    config = replace(config, teacher=replace(config.teacher, seed=config.seed,
                                             threads=config.threads))
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    corpus = build_corpus(config.seed, config.sizes)
    say(f"corpus: {len(corpus.labelled)} labelled, {len(corpus.unlabelled)} unlabelled"
        f" {corpus.unlabelled_origins}")
    if config.teacher_only:
        teacher_dir = teacher_stage(config, corpus, work, say)
        doc: dict[str, Any] = {
            "config": config.to_dict(), "teacher": str(teacher_dir),
            "corpus": {"labelled": len(corpus.labelled), "digest": corpus_digest(corpus)},
            "models": {}, "total_seconds": round(time.monotonic() - started, 1)}
        out.mkdir(parents=True, exist_ok=True)
        (out / REPORT_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return doc
    recorder = Recorder(out, config, work, say)
    recorder.doc["corpus"] = {"labelled": len(corpus.labelled),
                              "unlabelled": len(corpus.unlabelled),
                              "unlabelled_origins": corpus.unlabelled_origins}
    teacher_dir = teacher_stage(config, corpus, work, say)
    soft_labelled, soft_unlabelled = soft_stage(config, corpus, teacher_dir, work, say)
    vocab_texts = [*(e.text for e in corpus.labelled), *corpus.unlabelled]
    student = replace(config.student, seed=config.seed)

    fingerprint = _fingerprint(config, corpus)
    recorder.doc["corpus"]["digest"] = fingerprint["data"]
    # The control never reads the teacher: its KD settings are pinned so that runs which differ
    # only in them share (and reuse) one control.
    unused = TrainSettings()
    control_config = replace(student, use_teacher=False, token_kd="none",
                             kd_confidence=unused.kd_confidence,
                             temperature=unused.temperature, kd_weight=unused.kd_weight,
                             unlabelled_mode=unused.unlabelled_mode,
                             unlabelled_batch=unused.unlabelled_batch,
                             line_kd_confidence=unused.line_kd_confidence)
    student_stage(
        out / "student-control", {**fingerprint, "student": control_config.to_dict()},
        "control (no teacher)", say,
        lambda: train_student(corpus.labelled, [], control_config, vocab_texts=vocab_texts,
                              progress=say))
    distilled = student_stage(
        out / "student-distilled", {**fingerprint, "student": student.to_dict()}, "distilled",
        say, lambda: train_student(corpus.labelled, corpus.unlabelled, student, soft_labelled,
                                   soft_unlabelled, vocab_texts=vocab_texts, progress=say))
    compressed_from = distilled
    stages: list[str] = []
    if config.prune_width is not None or config.prune_layers is not None:
        network = distilled.network
        if config.prune_layers is not None:
            network = prune_layers(network, config.prune_layers)
            stages.append(f"layers {config.prune_layers}")
        if config.prune_width is not None:
            network = prune_width(network, config.prune_width)
            stages.append(f"ffn width {config.prune_width}")
        finetune = replace(student, steps=config.finetune_steps, lr=student.lr / 3,
                           warmup=0.0)
        compressed_from = train_student(
            corpus.labelled, corpus.unlabelled, finetune, soft_labelled, soft_unlabelled,
            progress=say, network=network, tokenizer=distilled.tokenizer)
        _save_student(out / "student-pruned", compressed_from, {
            "distill": "distilled, pruned (" + ", ".join(stages) + ")",
            "training": finetune.to_dict()})
    _save_student(out / "student-compressed", compressed_from, {
        "distill": "distilled" + (", " + ", ".join(stages) if stages else "")})
    recorder.doc["train_seconds"] = round(time.monotonic() - started, 1)
    recorder.write()

    # Measurements: every model the same way.
    from logsentry.train.distill.analyzer import teacher_analyzer

    teacher_size = sum(f.stat().st_size for f in teacher_dir.rglob("*") if f.is_file())
    teacher = teacher_analyzer(teacher_dir)
    recorder.measure(
        "teacher", teacher, lambda: teacher_analyzer(teacher_dir, cache_size=0),
        parameter_count(teacher.teacher), teacher_size, config.teacher_speed_lines,
        {"folder": str(teacher_dir)})
    recorder.student("student-control", out / "student-control", {})
    recorder.student("student-distilled", out / "student-distilled", {})
    if stages:
        recorder.student("student-pruned", out / "student-pruned", {"pruning": stages})
    recorder.student("student-compressed", out / "student-compressed", {"pruning": stages})
    if reference is not None and (reference / "model.safetensors").is_file():
        recorder.student("shipped", reference, {})
    recorder.doc["total_seconds"] = round(time.monotonic() - started, 1)
    recorder.write()
    from logsentry.train.distill.card import write_card

    write_card(recorder.doc, out / CARD_FILE)
    return recorder.doc
