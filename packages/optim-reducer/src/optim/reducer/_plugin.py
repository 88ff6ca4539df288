"""optim-reducer's plugin module (entry point `optim.plugins` -> `reducer`).

Registers what optim-reducer contains; targets are "module:attr" strings so that listing
names stays cheap.
"""

from __future__ import annotations

from optim.plugins import hookimpl

REDUCERS: dict[str, tuple[str, str]] = {}


@hookimpl
def register_reducers(register):
    for name, (target, description) in REDUCERS.items():
        register(name, target, description=description)
