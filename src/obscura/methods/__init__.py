"""The kernel every method shares: config base, registry, checkpoint format and the resumable loop.

A method is a config dataclass (:class:`MethodConfig`) whose ``setup()`` builds the object it
describes; a :class:`Registry` maps names to config classes; :func:`save_checkpoint` /
:func:`read_checkpoint` store state dicts with the config as JSON; :func:`run_loop` trains any
:class:`Task` with seeding, progress bar, logging, NaN guard and kill -9 resume.
"""

from obscura.methods.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from obscura.methods.config import MethodConfig
from obscura.methods.loop import LoopResult, Task, TrainingDiverged, run_loop, step_generator
from obscura.methods.registry import Registry

__all__ = ["CheckpointError", "LoopResult", "MethodConfig", "Registry", "Task", "TrainingDiverged",
           "read_checkpoint", "run_loop", "save_checkpoint", "step_generator"]
