"""mkdocs hook: every page works offline, loading nothing from another host.

nbconvert's notebook template loads MathJax from a CDN on every tutorial page (the tutorials
use no maths); that script tag is removed. Any other script, stylesheet or image fetched
from another host is reported as a warning, which ``mkdocs build --strict`` turns into a
failed build: the site must open without network (and without console errors).
"""

from __future__ import annotations

import logging
import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.offline_pages")

_NBCONVERT_MATHJAX = re.compile(
    r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^"]*">\s*</script>'
)
_REMOTE_RESOURCE = re.compile(
    r'<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)="((?:https?:)?//[^"]+)"', re.IGNORECASE
)


def remote_resources(html: str) -> list[str]:
    """The URLs of scripts, stylesheets, images and frames that ``html`` loads from other
    hosts (plain links to other sites are fine: they load nothing)."""
    return _REMOTE_RESOURCE.findall(html)


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    output = _NBCONVERT_MATHJAX.sub("", output)
    for url in remote_resources(output):
        log.warning(f"{page.file.src_uri} loads {url} from the network; the site must work offline")
    return output
