"""Datasets that ship offline in system or Python packages, and the prepared arrays built from them."""
