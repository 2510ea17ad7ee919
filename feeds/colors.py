"""RFC 7986 COLOR takes a CSS3 colour name, not a hex value: pick the nearest one."""

from __future__ import annotations

from functools import lru_cache

import webcolors


@lru_cache(maxsize=256)
def css3_name(hex_color: str) -> str:
    red, green, blue = webcolors.hex_to_rgb(hex_color)

    def distance(name: str) -> int:
        r, g, b = webcolors.name_to_rgb(name)
        return int((r - red) ** 2 + (g - green) ** 2 + (b - blue) ** 2)

    return str(min(webcolors.names("css3"), key=distance))
