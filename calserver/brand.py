"""A workspace's brand on its subscribers' pages: the logo it uploads, its colour, its footer.

The logo is checked here, before anything is stored: its bytes must be what its type says,
it must fit in ``LOGO_MAX_BYTES``, and an SVG must be a picture and nothing else. SVG can
carry scripts, event handlers, links and references to other hosts; rather than rewrite a
hostile file we refuse it, element by element against an allow-list, and say why.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedET

from feeds.i18n import N_, say

LOGO_MAX_BYTES = 256 * 1024
LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/svg+xml": "svg"}
FOOTER_MAX = 500
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# Shapes, text, gradients, clipping: what a logo is drawn with. No script, style sheet,
# foreignObject, image, animation or link element.
SVG_ELEMENTS = frozenset(
    [
        "svg",
        "g",
        "defs",
        "title",
        "desc",
        "path",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "text",
        "tspan",
        "linearGradient",
        "radialGradient",
        "stop",
        "clipPath",
        "mask",
        "symbol",
        "use",
    ]
)
# References must stay inside the file: url(#id) and href="#id".
OUTSIDE_REF = re.compile(r"url\s*\(\s*(?!['\"]?#)|@import|expression\s*\(|javascript:", re.I)
# The SVG stylesheet served with the logo: whatever slipped through cannot run or load.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


class BrandError(ValueError):
    """A logo, colour or footer the workspace cannot use; the message says why."""

    def __init__(self, message: str, status: int = 422, **values: object) -> None:
        super().__init__(say(message, **values))
        self.status = status


@dataclass(frozen=True)
class Logo:
    content_type: str
    body: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def extension(self) -> str:
        return LOGO_TYPES[self.content_type]


def check_logo(body: bytes, content_type: str) -> Logo:
    """The logo as it will be stored, or BrandError saying what is wrong with it."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in LOGO_TYPES:
        raise BrandError(N_("A logo must be a PNG, JPEG or SVG image."), status=415)
    if len(body) > LOGO_MAX_BYTES:
        raise BrandError(
            N_("The logo is %(size)d KiB; at most %(limit)d KiB is accepted."),
            status=413, size=-(-len(body) // 1024), limit=LOGO_MAX_BYTES // 1024,
        )  # fmt: skip
    if not body:
        raise BrandError(N_("The logo is empty."))
    if kind == "image/png" and not body.startswith(b"\x89PNG\r\n\x1a\n"):
        raise BrandError(N_("This file is not a PNG image."))
    if kind == "image/jpeg" and not body.startswith(b"\xff\xd8\xff"):
        raise BrandError(N_("This file is not a JPEG image."))
    if kind == "image/svg+xml":
        _check_svg(body)
    return Logo(kind, body)


def _check_svg(body: bytes) -> None:
    try:
        root = DefusedET.fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, DefusedET.ParseError, ValueError):
        raise BrandError(N_("This SVG cannot be read, or it declares a DTD or entities.")) from None
    if root.tag != SVG_NS + "svg":
        raise BrandError(N_("This file is not an SVG image."))
    for element in root.iter():
        _check_element(element)


def _check_element(element: Element) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    name = tag.removeprefix(SVG_NS)
    if not tag.startswith(SVG_NS) or name not in SVG_ELEMENTS:
        raise BrandError(
            N_("The SVG contains <%(element)s>, which a logo may not carry."),
            element=name.rsplit("}", 1)[-1] or "?",
        )
    for attribute, value in element.attrib.items():
        local = attribute.rsplit("}", 1)[-1]
        if local.lower().startswith("on"):
            raise BrandError(N_("The SVG has an event handler (%(attribute)s)."), attribute=local)
        if attribute in ("href", XLINK_HREF) and not value.startswith("#"):
            raise BrandError(N_("The SVG links outside itself (%(attribute)s)."), attribute=local)
        if OUTSIDE_REF.search(value):
            raise BrandError(N_("The SVG refers to something outside itself (%(attribute)s)."),
                             attribute=local)  # fmt: skip
    if OUTSIDE_REF.search(element.text or ""):
        raise BrandError(N_("The SVG refers to something outside itself (%(attribute)s)."),
                         attribute=name)  # fmt: skip


def check_color(value: str) -> str:
    if not COLOR_RE.match(value):
        raise BrandError(N_("A brand colour is written #RRGGBB, e.g. #1565C0."))
    return value.lower()


def check_footer(value: str) -> str:
    text = value.strip()
    if len(text) > FOOTER_MAX:
        raise BrandError(N_("The footer is at most %(limit)d characters."), limit=FOOTER_MAX)
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise BrandError(N_("The footer contains control characters."))
    return text


def _luminance(hex_color: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


LIGHT_BACKGROUND, DARK_BACKGROUND = "#ffffff", "#121212"
READABLE = 4.5  # WCAG AA for body text


def brand_css(color: str) -> str:
    """A stylesheet that paints the pages in the brand colour, and keeps them readable:
    the colour is the text and outline colour only where it reaches 4.5:1 on the page's
    background (light, then dark scheme); the primary button always takes it, with black
    or white text, whichever contrasts more."""
    color = check_color(color)
    ink = "#000000" if contrast(color, "#000000") >= contrast(color, "#ffffff") else "#ffffff"
    lines = [f":root {{ --brand: {color}; --on-brand: {ink}; }}"]
    if contrast(color, LIGHT_BACKGROUND) >= READABLE:
        lines.append(
            f"@media not (prefers-color-scheme: dark) {{ :root {{ --accent: {color}; }} }}"
        )
    if contrast(color, DARK_BACKGROUND) >= READABLE:
        lines.append(f"@media (prefers-color-scheme: dark) {{ :root {{ --accent: {color}; }} }}")
    lines.append(
        ".primary { background: var(--brand); color: var(--on-brand); border-color: var(--brand); }"
    )
    lines.append(".brandbar { border-top: 6px solid var(--brand); }")
    return "\n".join(lines) + "\n"
