"""optim-circuits's plugin module (entry point `optim.plugins` -> `circuits`).

Registers what optim-circuits contains; targets are "module:attr" strings so that listing
names stays cheap.
"""

from __future__ import annotations

from optim.plugins import hookimpl

OBJECTIVES: dict[str, tuple[str, str]] = {}


@hookimpl
def register_objectives(register):
    for name, (target, description) in OBJECTIVES.items():
        register(name, target, description=description)
