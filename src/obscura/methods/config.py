"""Base of every method config: a dataclass naming its method, building it and describing itself."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


@dataclasses.dataclass
class MethodConfig:
    """``name`` identifies the method in its registry; ``setup()`` builds it; ``tiny()`` is the
    seconds-on-CPU variant the tests use; ``to_dict()`` is what checkpoints store."""

    name: ClassVar[str] = ""
    tiny_overrides: ClassVar[dict[str, Any]] = {}

    def setup(self):
        """Build the model/object this config describes."""
        raise NotImplementedError(f"{type(self).__name__}.setup")

    def validate(self) -> None:
        """Raise ``ObscuraError`` for values the method cannot run with (default: accept)."""

    @classmethod
    def tiny(cls, **overrides):
        """The tiny test config: the defaults with ``tiny_overrides`` and then ``overrides`` applied."""
        return cls(**{**cls.tiny_overrides, **overrides})

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
