"""Operator-supplied text made safe to show: one function for the terminal, one for Markdown.

An ``--operator`` or ``--reason`` is stored and shown back to other people. Control characters
(ANSI escape sequences move the cursor, clear or rewrite lines) and bidirectional overrides (which
reorder what is displayed: CVE-2021-42574, "Trojan Source") must not reach a terminal or a report
as themselves: they are shown as visible escapes instead.
"""

import unicodedata

# Unicode's bidirectional formatting characters (UAX #9, "Explicit Directional Formatting
# Characters" and the implicit marks): https://www.unicode.org/reports/tr9/
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that start Markdown syntax (CommonMark "backslash escapes": any ASCII punctuation).
_MARKDOWN_SPECIAL = frozenset("\\`*_[]<>|#!~")


def unsafe_character(text: str) -> str | None:
    """The first character that would be neutralised, if any (input validation uses this)."""
    return next((ch for ch in text if _unsafe(ch)), None)


def _unsafe(ch: str) -> bool:
    # Cc: C0 and C1 controls (ESC, CR, BEL, CSI...); Zl/Zp: line and paragraph separators.
    return ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: object) -> str:
    """``text`` with every control character and bidirectional override shown as an escape."""
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in str(text))


def markdown_safe(text: object) -> str:
    """``terminal_safe`` text whose Markdown punctuation is escaped, so it stays text in a report
    (no links, HTML, emphasis or table cells of its own)."""
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in terminal_safe(text))
