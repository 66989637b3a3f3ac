"""Base class of every params.yaml section (kept apart from config.py so track sections can import it)."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())
