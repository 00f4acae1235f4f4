"""The trie pattern finds exactly what the plain longest-first alternation finds."""

import random
import re

from nethelpers.regextrie import literal_trie

WORDS = ["/data/dicom", "/data/dicom/Smith_J", "/data/dicom/Smith_J/PET", "/data/dicom/Smith",
         "Smith_J/PET", "Smith_J/PET_2", "P001/CT", "P001", "a.b", "a"]
BEFORE, AFTER = r"(?<![\w/.<-])", r"(?![\w>-])"


def _alternation(words: list[str], flags: int = 0) -> re.Pattern:
    ordered = sorted(words, key=len, reverse=True)
    return re.compile("|".join(BEFORE + re.escape(w) + AFTER for w in ordered), flags)


def _matches(pattern: re.Pattern, text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(0)) for m in pattern.finditer(text)]


def test_same_matches_as_the_alternation_on_planted_and_random_text():
    rng = random.Random(0)
    pieces = WORDS + [" ", "/", "-", "<", ">", "x", ".", "_2", "\n"]
    texts = [" ".join(f"{c}{w}{d}" for w in WORDS for c in " /<-x" for d in " />-._x"),
             *("".join(rng.choice(pieces) for _ in range(300)) for _ in range(200))]
    trie = re.compile(literal_trie(WORDS, before=BEFORE, after=AFTER))
    plain = _alternation(WORDS)
    found = [_matches(trie, t) for t in texts]
    assert found == [_matches(plain, t) for t in texts]
    # the longest word wins where several start at one place
    assert _matches(trie, "see /data/dicom/Smith_J/PET.") == [(4, "/data/dicom/Smith_J/PET")]
    assert _matches(trie, "see /data/dicom/Smith_J/PETX") == [(4, "/data/dicom/Smith_J")]
    assert sum(map(len, found)) > 300


def test_ignorecase_words_lowered():
    words = ["Smith_J", "SMITH_J2", "doe"]
    trie = re.compile(literal_trie(words, before=BEFORE, after=AFTER, lower=True), re.I)
    text = "smith_j SMITH_J2 Doe smith_jx"
    assert _matches(trie, text) == _matches(_alternation(words, re.I), text)
    assert [m for _, m in _matches(trie, text)] == ["smith_j", "SMITH_J2", "Doe"]


def test_no_words_gives_none():
    assert literal_trie(["", ""]) is None
