"""One regular expression for many literal strings, as a trie (fast on megabytes of text).

An alternation of hundreds of escaped paths (``a|b|c...``) makes :mod:`re` try every
alternative at every position of the text: sealing a report (megabytes of HTML with
embedded images) took a minute. The same strings as a trie (``/data/(?:P001/(?:CT|PET)|P002)``)
are tried one character at a time. Where several strings match at one position, the longest
is taken (children are tried before the end of a string), as in an alternation sorted
longest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["literal_trie"]

_END = ""  # key of "a string ends here" in a trie node (a character is never empty)


def _insert(trie: dict, word: str) -> None:
    node = trie
    for char in word:
        node = node.setdefault(char, {})
    node[_END] = {}


def _pattern(node: dict, after: str) -> str:
    """The regex of a trie node: every continuation (longest first), then its end."""
    branches = []
    for char in sorted(c for c in node if c != _END):
        child, text = node[char], re.escape(char)
        while len(child) == 1 and _END not in child:   # a run without branch: no group
            (char, child), = child.items()
            text += re.escape(char)
        branches.append(text + _pattern(child, after))
    if _END in node:
        branches.append(after)          # the string ends here: tried after every longer one
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def literal_trie(words: Iterable[str], *, before: str = "", after: str = "",
                 lower: bool = False) -> str | None:
    r"""A regex matching any of ``words``, the longest where several match at one position.

    Equivalent to ``"|".join(before + re.escape(w) + after for w in words)`` with ``words``
    sorted longest first (``before`` and ``after`` are the same zero-width assertions for
    every word), but linear in the length of the text.

    Parameters
    ----------
    words : iterable of str
        The literal strings (empty ones are ignored).
    before : str
        A zero-width assertion before each word, e.g. a lookbehind ``(?<![\w/])``.
    after : str
        A zero-width assertion after each word, e.g. a lookahead ``(?![\w.-])``.
    lower : bool
        Lower-case the words (for a pattern compiled with :data:`re.IGNORECASE`: case
        variants of one word become one branch).

    Returns
    -------
    str or None
        The pattern; None when there is no word.
    """
    trie: dict = {}
    for word in words:
        if word:
            _insert(trie, word.lower() if lower else word)
    if not trie:
        return None
    return before + _pattern(trie, after)
