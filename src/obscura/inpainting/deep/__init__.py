"""Deep inpainting methods (registry in ``registry.py``)."""
