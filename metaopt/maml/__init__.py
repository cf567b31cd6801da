"""Model-agnostic meta-learning: learned initialisations that adapt in a few gradient steps.

:class:`MAML` wraps any ``nn.Module``; :class:`SinusoidTasks` and :class:`FewShotTasks` sample
the regression and N-way K-shot classification tasks it learns from.
"""

from __future__ import annotations

from metaopt._extras import require

require("torch", "metaopt.maml")

from metaopt.maml._fewshot import FewShotTasks, pool_datasets, split_classes, split_rows
from metaopt.maml._maml import MAML
from metaopt.maml._memory import backward_memory
from metaopt.maml._sinusoid import SinusoidTasks
from metaopt.maml._task import Task

__all__ = [
    "MAML",
    "FewShotTasks",
    "SinusoidTasks",
    "Task",
    "backward_memory",
    "pool_datasets",
    "split_classes",
    "split_rows",
]
