"""Name → config class, one helper for every track (as nerfstudio's method registry)."""

from __future__ import annotations

from collections.abc import Iterator

from obscura.errors import ObscuraError
from obscura.methods.config import MethodConfig


class Registry:
    """The methods of one kind (``"generative model"``, ``"deep inpainting method"``, …)."""

    def __init__(self, kind: str, configs: dict[str, type[MethodConfig]] | None = None):
        self.kind = kind
        self._configs: dict[str, type[MethodConfig]] = {}
        for name, cls in (configs or {}).items():
            self.register(cls, name)

    def register(self, cls: type[MethodConfig], name: str | None = None) -> type[MethodConfig]:
        name = name or cls.name
        if not name or name in self._configs:
            raise ValueError(f"{self.kind}: cannot register {cls.__name__} as {name!r}")
        self._configs[name] = cls
        return cls

    def __contains__(self, name: object) -> bool:
        return name in self._configs

    def __iter__(self) -> Iterator[str]:
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    def names(self) -> list[str]:
        return list(self._configs)

    def config_class(self, name: str) -> type[MethodConfig]:
        if name not in self._configs:
            raise ObscuraError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._configs)}.")
        return self._configs[name]

    def make(self, name: str, tiny: bool = False, **fields) -> MethodConfig:
        """The config of ``name`` (its defaults, or its tiny test config) with ``fields`` applied.

        Unknown fields raise one ``ObscuraError`` listing the valid ones; the config is validated.
        """
        cls = self.config_class(name)
        valid = cls.field_names()
        unknown = sorted(set(fields) - valid)
        if unknown:
            raise ObscuraError(f"{name}: unknown config field(s) {', '.join(unknown)}; "
                               f"valid: {', '.join(sorted(valid))}.")
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        cfg = cls.tiny(**fields) if tiny else cls(**fields)
        cfg.validate()
        return cfg
