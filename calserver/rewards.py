"""What a reward and its codes may be, and reading a CSV of codes: rules shared by the API's
models (calserver/shapes/) and the dashboard. Storage and the unlock: storage/rewards.py."""

from __future__ import annotations

import csv
import io
import re

from feeds.i18n import N_

TEXT_MAX = 200
CODE_MAX = 100
CODES_MAX = 10_000  # per upload
# Printable, no spaces: what a till or a web shop accepts as a promo code.
CODE_RE = re.compile(r"^[!-~\u00a1-\uffff]{1,100}$")


class RewardError(ValueError):
    """A reward, code or file the segment cannot take; the message says why."""


def check_text(value: str) -> str:
    text = value.strip()
    if not text or len(text) > TEXT_MAX or any(ord(c) < 32 for c in text):
        raise RewardError(N_("The reward text takes 1 to 200 characters on one line."))
    return text


def check_code(value: str) -> str:
    code = value.strip()
    if not CODE_RE.fullmatch(code):
        raise RewardError(N_("A code takes 1 to 100 characters, without spaces."))
    return code


def read_codes(data: bytes) -> list[str]:
    """The first column of a CSV file (a header cell "code" is skipped), checked."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RewardError(N_("The file is not UTF-8 text.")) from None
    codes = [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if codes and codes[0].lower() == "code":
        codes = codes[1:]
    return check_codes(codes)


def check_codes(codes: list[str]) -> list[str]:
    if not codes:
        raise RewardError(N_("No codes were given."))
    if len(codes) > CODES_MAX:
        raise RewardError(N_("At most 10,000 codes per upload; split the file."))
    return [check_code(code) for code in codes]
