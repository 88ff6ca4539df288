"""optim-dataset's registry entries and the lazy `opt.dataset` attribute."""

from __future__ import annotations

import optim as opt
from optim import plugins


def test_dataset_statistics_are_registered_and_load():
    names = plugins.names("dataset_statistics")
    expected = {
        "colour_covariance": opt.dataset.dataset_cov_matrix,
        "klt_matrix": opt.dataset.dataset_klt_matrix,
        "magnitude_spectrum": opt.dataset.dataset_magnitude_spectrum,
        "activation_samples": opt.dataset.capture_activation_samples,
    }
    for name, function in expected.items():
        assert name in names
        assert plugins.get("dataset_statistics", name) is function
