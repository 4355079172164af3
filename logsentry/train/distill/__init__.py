"""Knowledge distillation and compression of the tagger.

A transfer-learned teacher (all-MiniLM-L6-v2 fine-tuned with a token head and a
line head) labels a larger corpus of log lines; the shipped `LogTagger` student
learns from its temperature-softened distributions plus the hard labels; then
the student is, where it helps, pruned. `pipeline.run`
reproduces every step from a seed; `cli.register_distill` adds
`logsentry model distill`. Training-only: nothing here is imported at run time.
"""
