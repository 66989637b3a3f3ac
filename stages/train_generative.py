"""DVC stage ``train_generative@<model>``: train one generative family on Fashion-MNIST
(``obscura.generative.fit.train_and_record``).

Re-running after an interruption resumes from ``<output>/.state/<model>.pt`` (not a DVC output, so
``dvc repro`` does not delete it) when the params are unchanged.
"""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.generative.fit import train_and_record


def run(params: Params, name: str) -> dict:
    return train_and_record(params, name)


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
