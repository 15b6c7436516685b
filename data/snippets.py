"""Text in context, for messages and reports: one implementation.

``in_context`` shows a span as ``before[span]after``; ``around`` shows the
text on both sides of one position. Newlines are replaced so that a snippet
stays on one line of a terminal or report.
"""

from __future__ import annotations


def in_context(text: str, start: int, end: int, width: int = 30, newline: str = " ") -> str:
    """``text[start:end]`` in brackets with up to ``width`` characters each side.

    >>> in_context("the minister said", 4, 12, width=4)
    'the [minister] sai'
    """
    start, end = max(start, 0), max(end, 0)
    snippet = text[max(0, start - width):start] + "[" + text[start:end] + "]" + text[end:end + width]
    return snippet.replace("\n", newline)


def around(text: str, at: int, width: int = 30, newline: str = "⏎") -> str:
    """Up to ``width`` characters each side of position ``at``.

    >>> around("abc\\ndef", 3, width=2)
    'bc⏎d'
    """
    return text[max(0, at - width):at + width].replace("\n", newline)
