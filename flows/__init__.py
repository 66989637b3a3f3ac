"""Prefect flows over the DVC pipeline. Importing this package sets Prefect's environment once.

PREFECT_HOME lives inside the repository, analytics are off, and the temporary (ephemeral) API
server gets enough time to start on a small CPU machine (it needs ~20 s here).
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("PREFECT_HOME", str(ROOT / ".prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
