"""User-facing errors: one message saying what was wrong and what to do."""


class ObscuraError(Exception):
    """An error caused by input or environment; the CLI prints it and exits with status 2."""


class ConfigError(ObscuraError):
    """params.yaml is missing, malformed or holds a value that is not allowed."""


class DatasetMissingError(ObscuraError):
    """A dataset that ships in a system package is not installed."""
