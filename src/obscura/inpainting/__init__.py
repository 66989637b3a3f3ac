"""Image inpainting: masks, classical (PDE, exemplar, hybrid) and deep methods, evaluation.

Convention everywhere: images are float32 HxWx3 in [0, 1]; masks are bool HxW with True = hole
(the pixels to fill). Every method returns an image equal to the input outside the hole.
"""
