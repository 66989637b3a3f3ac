"""CLI command groups, one module per track (mounted in obscura.cli)."""
