"""The training loop: Adam on cross-entropy (+ soft Dice), under a wall-clock budget.

Steps draw augmented chips from a ``ChipSampler``. The learning rate warms up over the first
steps, then follows a cosine down to 5 % of ``lr`` over the run, where the run's progress is the
larger of (elapsed / time budget) and (step / step cap), so a run cut by its time budget still
ends on a small learning rate. An epoch is ``ChipSampler.chips_per_epoch()`` chips (the training
pixels once, on average). Seeds fix the weights' initialisation and the chip draws: two runs
with the same seed that stop at the same step give the same weights on the same machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.functional import cross_entropy, one_hot

from inference.training.labels import IGNORE
from inference.training.options import TrainingOptions
from inference.training.sampling import ChipSampler

ProgressFn = Callable[[float, str], None]
WARMUP_STEPS = 20


@dataclass
class TrainOutcome:
    """What the loop did: steps, epochs (fractional), seconds, why it stopped, final loss."""

    steps: int
    epochs: float
    seconds: float
    stopped_by: str
    loss: float


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch CPU threads, restoring the previous setting after."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def loss_fn(logits: torch.Tensor, target: torch.Tensor, dice_weight: float) -> torch.Tensor:
    """Cross-entropy over labelled pixels plus ``dice_weight`` x (1 - mean soft Dice over the
    classes present in the batch's labels)."""
    loss = cross_entropy(logits, target, ignore_index=IGNORE)
    if dice_weight <= 0:
        return loss
    valid = target != IGNORE
    probs = torch.softmax(logits, dim=1) * valid.unsqueeze(1)
    onehot = one_hot(torch.where(valid, target, 0), logits.shape[1]).permute(0, 3, 1, 2)
    onehot = onehot * valid.unsqueeze(1)
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    sizes = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = onehot.sum(dim=(0, 2, 3)) > 0
    dice = (2 * inter + 1.0) / (sizes + 1.0)
    return loss + dice_weight * (1 - dice[present].mean())


def learning_rate(base: float, step: int, progress: float) -> float:
    """Linear warm-up over WARMUP_STEPS, then cosine from ``base`` to 5 % of it."""
    warm = min(1.0, (step + 1) / WARMUP_STEPS)
    cosine = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return base * warm * cosine


def train_loop(
    net: torch.nn.Module,
    sampler: ChipSampler,
    options: TrainingOptions,
    device: torch.device,
    progress: ProgressFn | None = None,
) -> TrainOutcome:
    """Train ``net`` (which has a ``logits`` method) in place; stops at the time budget or the
    epoch cap, whichever comes first. ``progress`` gets (0..100 of this loop, message)."""
    report = progress or (lambda _p, _m: None)
    steps_per_epoch = max(1, math.ceil(sampler.chips_per_epoch() / options.batch))
    max_steps = options.max_epochs * steps_per_epoch
    optimizer = torch.optim.Adam(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    net.to(device).train()
    began = time.perf_counter()
    step, loss_value, recent = 0, float("nan"), []
    stopped_by = "epochs"
    last_report = began
    while step < max_steps:
        elapsed = time.perf_counter() - began
        if elapsed >= options.time_budget_s:
            stopped_by = "time"
            break
        done = max(elapsed / options.time_budget_s, step / max_steps)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(options.lr, step, done)
        x, y = sampler.batch(options.batch)
        logits = net.logits(torch.from_numpy(x).to(device))  # type: ignore[operator]
        loss = loss_fn(logits, torch.from_numpy(y).to(device), options.dice_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        recent.append(float(loss.detach()))
        step += 1
        now = time.perf_counter()
        if now - last_report >= 2.0 or step == max_steps:
            last_report = now
            loss_value = float(np.mean(recent[-20:]))
            report(
                100.0 * max((now - began) / options.time_budget_s, step / max_steps),
                f"epoch {step / steps_per_epoch:.1f}, loss {loss_value:.3f}",
            )
    net.eval()
    loss_value = float(np.mean(recent[-20:])) if recent else float("nan")
    return TrainOutcome(
        steps=step,
        epochs=round(step / steps_per_epoch, 2),
        seconds=round(time.perf_counter() - began, 2),
        stopped_by=stopped_by,
        loss=round(loss_value, 4),
    )
