"""Image retrieval for matching: a vocabulary tree built from the capture's own SIFT features.

COLMAP's loop detection (sequential matching) and vocabulary-tree matching need a tree file, usually
a pre-trained one downloaded from the COLMAP site. Here pycolmap's ``VisualIndex`` is trained on the
descriptors already in the database (k-means visual words + Hamming embedding), so retrieval works
offline and fits the scene. Training cost grows with the sample: at most ``SAMPLES_PER_WORD`` x words
descriptors, drawn with the run's seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

DESCRIPTORS_PER_WORD = 100  # visual words = descriptors in the database / this, within WORDS_RANGE
WORDS_RANGE = (256, 4096)
SAMPLES_PER_WORD = 64
KMEANS_ITERATIONS = 20


def num_visual_words(num_descriptors: int) -> int:
    """Vocabulary size for a database holding ``num_descriptors`` SIFT descriptors."""
    lo, hi = WORDS_RANGE
    return int(np.clip(num_descriptors // DESCRIPTORS_PER_WORD, lo, hi))


def build_vocab_tree(database_path: str | os.PathLike, out_path: str | os.PathLike, seed: int = 0,
                     num_threads: int = -1) -> dict:
    """Train a visual index on the database's descriptors and write it to ``out_path``; returns its size.
    Its k-means draws from COLMAP's global generator, which is reseeded with ``seed`` first: the same
    database gives the same tree on any number of threads."""
    import pycolmap

    pycolmap.set_random_seed(seed)

    db = pycolmap.Database.open(str(database_path))
    try:
        descriptors = [db.read_descriptors(img.image_id).data for img in db.read_all_images()]
    finally:
        db.close()
    pool = np.concatenate(descriptors)
    words = num_visual_words(len(pool))
    rng = np.random.default_rng(seed)
    sample = pool[np.sort(rng.choice(len(pool), min(len(pool), SAMPLES_PER_WORD * words), replace=False))]
    index = pycolmap.VisualIndex.create(128, 64)
    index.build(pycolmap.VisualIndex.BuildOptions(num_visual_words=words, num_iterations=KMEANS_ITERATIONS,
                                                  num_rounds=1, num_threads=num_threads),
                pycolmap.FeatureDescriptors(pycolmap.FeatureExtractorType.SIFT, sample).to_float())
    index.write(str(out_path))
    return {"vocab_tree_words": index.num_visual_words(), "vocab_tree_descriptors": len(sample)}


__all__ = ["build_vocab_tree", "num_visual_words"]
