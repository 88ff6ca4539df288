"""optim-dataset's plugin module (entry point `optim.plugins` -> `dataset`).

Registers what optim-dataset contains; targets are "module:attr" strings so that listing
names stays cheap. ``optim.dataset.compute_statistic(name, loader, ...)`` runs any of them (and
any third-party statistic) by name.
"""

from __future__ import annotations

from optim.plugins import Registrar, hookimpl

OPTIM_PLUGIN_API = 1  # the optim plugin API (optim.plugins.PLUGIN_API_VERSION) this targets

DATASET_STATISTICS: dict[str, tuple[str, str]] = {
    "colour_covariance": (
        "optim.dataset.covariance:dataset_cov_matrix",
        "Mean per-image RGB channel covariance of a loader's images",
    ),
    "klt_matrix": (
        "optim.dataset.klt:dataset_klt_matrix",
        "KLT colour matrix of a loader's images, usable as ToRGB(transform=...)",
    ),
    "magnitude_spectrum": (
        "optim.dataset.spectrum:dataset_magnitude_spectrum",
        "Mean Fourier amplitude in the decorrelated colour space (MACO prior)",
    ),
    "activation_samples": (
        "optim.dataset.samples:capture_activation_samples",
        "Activation (and attribution) vectors at random positions, for atlases",
    ),
}


@hookimpl
def register_dataset_statistics(register: Registrar) -> None:
    for name, (target, description) in DATASET_STATISTICS.items():
        register(name, target, description=description)
