"""Name → config class, one helper for every track (as nerfstudio's method registry)."""

from __future__ import annotations

import numbers
import typing
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

        Unknown fields raise one ``ObscuraError`` listing the valid ones; values of int, float, bool and str
        fields are converted to the field's type (YAML reads ``1e-3`` as a string) or rejected with one
        ``ObscuraError``; the config is validated.
        """
        cls = self.config_class(name)
        valid = cls.field_names()
        unknown = sorted(set(fields) - valid)
        if unknown:
            raise ObscuraError(f"{name}: unknown config field(s) {', '.join(unknown)}; "
                               f"valid: {', '.join(sorted(valid))}.")
        hints = typing.get_type_hints(cls)
        fields = {k: tuple(v) if isinstance(v, list) else _as_type(name, k, v, hints[k]) for k, v in fields.items()}
        cfg = cls.tiny(**fields) if tiny else cls(**fields)
        cfg.validate()
        return cfg


def _as_type(method: str, field: str, value, kind):
    """``value`` as the scalar type ``kind`` (int, float, bool, str; other types pass through): numbers of any
    numeric type (numpy's too) and numeric strings become floats; integers, whole floats (``2e5``) and integer
    strings become ints."""
    if kind not in (int, float, bool, str) or type(value) is kind:
        return value
    converted = None
    if not isinstance(value, bool):
        try:
            if kind is float and isinstance(value, (numbers.Real, str)):
                converted = float(value)
            elif kind is int and isinstance(value, numbers.Integral):
                converted = int(value)
            elif kind is int and isinstance(value, (numbers.Real, str)):
                number = float(value)
                converted = int(number) if number.is_integer() else None
        except ValueError:
            pass
    if converted is None:
        raise ObscuraError(f"{method}: config field {field} must be {kind.__name__}, got {value!r}.")
    return converted
