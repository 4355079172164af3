"""The distillation loss: KL divergence between temperature-softened distributions.

`KL(teacher_T || student_T) * T^2` (Hinton et al.): softening at temperature T
exposes the teacher's relative preferences among wrong labels ("this piece is a
user name, or else a host name, never a port"); the T^2 factor keeps its
gradients on the scale of the hard loss as T changes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Mean over the rows selected by `mask` of `KL(softmax(t/T) || softmax(s/T)) * T^2`.

    `student_logits`, `teacher_logits`: `[..., classes]`; `mask`: `[...]` bool. Zero (with
    a gradient graph) when no row is selected."""
    selected = mask.bool()
    if not bool(selected.any()):
        return student_logits.sum() * 0.0
    student = student_logits[selected].float() / temperature
    teacher = teacher_logits[selected].float() / temperature
    log_q = F.log_softmax(student, dim=-1)
    log_p = F.log_softmax(teacher, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    return kl.mean() * temperature * temperature
