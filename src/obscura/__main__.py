"""``python -m obscura`` is the ``obscura`` command."""

from obscura.cli import main

main()
