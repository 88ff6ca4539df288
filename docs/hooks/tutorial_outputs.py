"""mkdocs hook: an executed tutorial must show images.

With execution on (mkdocs-jupyter's ``execute``, ``OPTIM_DOCS_EXECUTE``), every tutorial page
must embed at least one image output (a PNG that the notebook drew). A tutorial that ran but
drew nothing (a figure lost to a non-interactive matplotlib backend, a display call removed)
is reported as a warning, which ``mkdocs build --strict`` turns into a failed build.
"""

from __future__ import annotations

import logging

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.tutorial_outputs")

EMBEDDED_PNG = "data:image/png;base64,"


def _executes(config: MkDocsConfig) -> bool:
    plugin = config.plugins.get("mkdocs-jupyter")
    return bool(plugin is not None and plugin.config.get("execute"))


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    source = page.file.src_uri
    tutorial = source.startswith("tutorials/") and source.endswith(".py")
    if tutorial and _executes(config) and EMBEDDED_PNG not in output:
        log.warning(f"{source} ran but its page shows no image output")
    return output
