"""optim-models's plugin module (entry point `optim.plugins` -> `models`).

Registers what optim-models contains; targets are "module:attr" strings so that listing
names stays cheap.
"""

from __future__ import annotations

from optim.plugins import hookimpl

MODELS: dict[str, tuple[str, str]] = {}


@hookimpl
def register_models(register):
    for name, (target, description) in MODELS.items():
        register(name, target, description=description)
