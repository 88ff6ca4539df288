"""optim-dataset's plugin module (entry point `optim.plugins` -> `dataset`).

Registers what optim-dataset contains; targets are "module:attr" strings so that listing
names stays cheap.
"""

from __future__ import annotations

from optim.plugins import hookimpl

DATASET_STATISTICS: dict[str, tuple[str, str]] = {}


@hookimpl
def register_dataset_statistics(register):
    for name, (target, description) in DATASET_STATISTICS.items():
        register(name, target, description=description)
