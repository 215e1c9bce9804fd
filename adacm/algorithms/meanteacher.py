"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017).

The student (the model being trained) sees one weak view of each unlabeled image, the
teacher — the exponential moving average of the student, i.e. the trainer's EMA model
(``needs_teacher``) — another weak view. Consistency: the squared error between their
softmax outputs, averaged over images and classes (the reference code's
``mse_loss(sum) / num_classes / batch``), with no gradient into the teacher.
Loss Lx + w(t)·Lc, w(t) = w_max · exp(−5(1 − t)²), t = progress through the ramp-up.

Defaults and sources:
- w_max = 50: USB's CIFAR config (``ulb_loss_ratio: 50``); the authors' PyTorch CIFAR-10 run
  (180 epochs) uses 100 with a 5-epoch ramp.
- the sigmoid-shaped ramp-up exp(−5(1−t)²) of the paper, over the first 40% of training
  (USB's ``unsup_warm_up: 0.4``; USB itself ramps linearly). The paper's ramp lengths are in
  epochs of 180–300-epoch runs; a fraction of training carries over to a 20-epoch run.
- consistency on the unlabeled images only (USB); the paper also applies it to labeled ones.
- batch: the suite's 16 labeled + 16 unlabeled images (USB: 64 + 64; the authors' CIFAR-10
  run: 31 labeled among 128).
- the teacher's EMA decay is the trainer's (the paper uses 0.99 during ramp-up, then 0.999;
  the authors' PyTorch CIFAR-10 run 0.97), not this module's.
- the teacher predicts in eval mode (running batch-norm statistics, no dropout), as the
  trainer holds its EMA model; in the paper the teacher also gets its own dropout noise. The
  two views still differ by their augmentation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adacm.algorithms.base import Algorithm, Batch, forward_views
from adacm.algorithms.mixing import sigmoid_rampup


class MeanTeacher(Algorithm):
    unlabeled_views = ("weak", "weak")
    needs_teacher = True

    def __init__(self, num_classes: int, lambda_u: float = 50.0, rampup: float = 0.4,
                 joint_forward: bool = True) -> None:
        super().__init__(joint_forward)
        self.num_classes, self.lambda_u, self.rampup = num_classes, lambda_u, rampup

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        if self.teacher is None:
            raise RuntimeError("MeanTeacher needs its teacher: set algorithm.teacher to the EMA model")
        student_view, teacher_view = batch.u_views
        (logits_x, _), (logits_u, _) = forward_views(model, [batch.x, student_view], self.joint_forward)
        with torch.no_grad():
            teacher_logits, _ = self.teacher(teacher_view)
        loss_x = self.supervised_term(logits_x, batch.y)
        loss_c = F.mse_loss(torch.softmax(logits_u.float(), dim=1), torch.softmax(teacher_logits.float(), dim=1))
        w_u = self.lambda_u * sigmoid_rampup(batch.step, batch.total_steps, self.rampup)
        loss = loss_x + w_u * loss_c
        return loss, {"loss_x": loss_x.item(), "loss_u": loss_c.item(), "w_u": w_u}
