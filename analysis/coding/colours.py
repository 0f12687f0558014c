"""Code colours. A code's colour is shown as a chip next to its name (colour is never the only signal),
and the chip's label text must stay readable on it (WCAG 2.2 AA, 4.5:1)."""

from __future__ import annotations

import re

HEX_RE = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")

# Every colour here carries white label text at 4.5:1 or better, and stands out against the white
# page at 3:1 or better (non-text contrast), so a chip is legible with or without its border. They are
# also far apart from each other (CIE76 ΔE ≥ 30 for every pair): two codes in adjacent colours must not
# read as one (the earlier plum and pink did).
PALETTE: tuple[str, ...] = (
    "#005eb8",  # blue
    "#007f3b",  # green
    "#d5281b",  # red
    "#330072",  # purple
    "#8a5a00",  # ochre
    "#00676b",  # teal
    "#ae2573",  # pink
    "#212b32",  # charcoal
    "#9b23c4",  # violet
    "#995555",  # rose
    "#1a1aff",  # bright blue
    "#5c6b00",  # olive
)


PALETTE_NAMES: dict[str, str] = {
    "#005eb8": "Blue", "#007f3b": "Green", "#d5281b": "Red", "#330072": "Purple", "#8a5a00": "Ochre",
    "#00676b": "Teal", "#ae2573": "Pink", "#212b32": "Charcoal", "#9b23c4": "Violet", "#995555": "Rose",
    "#1a1aff": "Bright blue", "#5c6b00": "Olive",
}


def colour_normalise(value: str) -> str:
    """``#abc`` or ``#AABBCC`` as lower-case ``#aabbcc``; ValueError for anything else."""
    value = (value or "").strip()
    if not HEX_RE.match(value):
        raise ValueError("A colour is a hex value such as #005eb8.")
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def palette_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def palette_next(used: list[str]) -> str:
    """The colour for a study's next code: the first palette colour no code has yet, so every code
    has its own colour while the palette lasts; then the least used (earliest on a tie)."""
    counts = {c: 0 for c in PALETTE}
    for colour in used:
        key = (colour or "").lower()
        if key in counts:
            counts[key] += 1
    return min(PALETTE, key=lambda c: (counts[c], PALETTE.index(c)))


def _luminance(colour: str) -> float:
    digits = colour_normalise(colour)[1:]
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def label_text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (one of them always reaches 4.5:1)."""
    return "#ffffff" if contrast_ratio(background, "#ffffff") >= contrast_ratio(background, "#000000") else "#000000"
