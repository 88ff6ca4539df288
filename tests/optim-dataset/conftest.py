"""Shared fixtures for optim-dataset tests: the real photos of scikit-image and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def real_photos() -> list[np.ndarray]:
    """Six real RGB photos (H x W x 3 uint8) that ship with scikit-image and scikit-learn."""
    skimage_data = pytest.importorskip("skimage.data")
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    photos = [
        getattr(skimage_data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")
    ]
    return photos + list(sklearn_datasets.load_sample_images().images)
