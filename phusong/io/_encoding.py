"""Text decoding of legacy Vietnamese files: UTF-8, Windows-1258 and TCVN3 (ABC).

Vietnamese CSV files from provincial offices are often not UTF-8:

- **Windows-1258** (``cp1258``) has a Python codec, but Vietnamese written in it uses combining
  tone marks after the base letter (``o`` + U+0300), so the decoded text is normalised to NFC.
- **TCVN3** (TCVN 5712:1993 "ABC", the ``.VnTime`` fonts) has no Python codec. Its lower-case
  letters with tone marks and the seven letters ``ĂÂÊÔƠƯĐ`` sit in bytes 0xA1–0xFE; upper-case
  toned letters are drawn with a separate upper-case font from the *same* bytes, so they decode
  to lower case. :data:`TCVN3_TO_UNICODE` is the standard's public byte table.

:func:`decode_text` tries UTF-8 (with or without BOM), then Windows-1258 and TCVN3, and keeps
the legacy decoding whose words look like Vietnamese syllables.

Examples
--------
>>> decode_text("Hòa Bình".encode("utf-8"))
('Hòa Bình', 'utf-8')
>>> decode_text(b"H\\xf7u Ngh\\xde, Ho\\xb5 B\\xd7nh, L\\xad\\xacng S\\xacn")
('Hữu Nghị, Hoà Bình, Lương Sơn', 'tcvn3')
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["TCVN3_TO_UNICODE", "decode_tcvn3", "decode_text", "vietnamese_score"]

# Byte → letter, in the order of the standard's table (a, ă, â, đ, e, ê, i, o, ô, ơ, u, ư, y):
# for each vowel: plain/grave, acute, hook, tilde, dot below as TCVN3 lays them out.
_PAIRS = (
    "a\u00b5\u00e0 \u00b8\u00e1 \u00b6\u1ea3 \u00b7\u00e3 \u00b9\u1ea1 "
    "\u00a8\u0103 \u00bb\u1eb1 \u00be\u1eaf \u00bc\u1eb3 \u00bd\u1eb5 \u00c6\u1eb7 "
    "\u00a9\u00e2 \u00c7\u1ea7 \u00ca\u1ea5 \u00c8\u1ea9 \u00c9\u1eab \u00cb\u1ead "
    "\u00ae\u0111 "
    "\u00cc\u00e8 \u00d0\u00e9 \u00ce\u1ebb \u00cf\u1ebd \u00d1\u1eb9 "
    "\u00aa\u00ea \u00d2\u1ec1 \u00d5\u1ebf \u00d3\u1ec3 \u00d4\u1ec5 \u00d6\u1ec7 "
    "\u00d7\u00ec \u00dd\u00ed \u00d8\u1ec9 \u00dc\u0129 \u00de\u1ecb "
    "\u00df\u00f2 \u00e3\u00f3 \u00e1\u1ecf \u00e2\u00f5 \u00e4\u1ecd "
    "\u00ab\u00f4 \u00e5\u1ed3 \u00e8\u1ed1 \u00e6\u1ed5 \u00e7\u1ed7 \u00e9\u1ed9 "
    "\u00ac\u01a1 \u00ea\u1edd \u00ed\u1edb \u00eb\u1edf \u00ec\u1ee1 \u00ee\u1ee3 "
    "\u00ef\u00f9 \u00f3\u00fa \u00f1\u1ee7 \u00f2\u0169 \u00f4\u1ee5 "
    "\u00ad\u01b0 \u00f5\u1eeb \u00f8\u1ee9 \u00f6\u1eed \u00f7\u1eef \u00f9\u1ef1 "
    "\u00fa\u1ef3 \u00fd\u00fd \u00fb\u1ef7 \u00fc\u1ef9 \u00fe\u1ef5 "
    "\u00a1\u0102 \u00a2\u00c2 \u00a3\u00ca \u00a4\u00d4 \u00a5\u01a0 \u00a6\u01af \u00a7\u0110"
)
#: TCVN3 (ABC) byte value → Unicode letter (74 entries; other bytes are ASCII/Latin-1).
TCVN3_TO_UNICODE: dict[int, str] = {
    ord(p[0]): p[1] for p in _PAIRS[1:].split(" ") if len(p) == 2
}
_TCVN3_TABLE = {b: ch for b, ch in TCVN3_TO_UNICODE.items()}

_VOWELS = "aăâeêioôơuưy"
_NUCLEI = set(
    "a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua uâ uê ui "
    "uô uơ uy ưa ưi ưu ươ yê iêu oai oay oeo uây uôi ươi ươu uya uyê uyu yêu".split()
)
_SYLLABLE = re.compile(
    r"^(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
    rf"([{_VOWELS}]{{1,3}})"
    r"(ch|ng|nh|[cmnpt])?$"
)
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def decode_tcvn3(data: bytes) -> str:
    """Decode TCVN3 (ABC) bytes to NFC Unicode text.

    Examples
    --------
    >>> decode_tcvn3(b"Ho\\xb5 B\\xd7nh")
    'Hoà Bình'
    """
    text = data.decode("latin-1")
    return unicodedata.normalize("NFC", text.translate(_TCVN3_TABLE))


def _plausible_word(word: str) -> bool:
    nfd = unicodedata.normalize("NFD", word.lower())
    tones = sum(ch in _TONE_MARKS for ch in nfd)
    base = unicodedata.normalize("NFC", "".join(ch for ch in nfd if ch not in _TONE_MARKS))
    m = _SYLLABLE.match(base)
    if tones > 1 or m is None:
        return False
    nucleus = m.group(2)
    if m.group(1) == "qu" or (m.group(1) == "gi" and nucleus):
        return True
    return nucleus in _NUCLEI


def vietnamese_score(text: str) -> float:
    """Share of non-ASCII characters that sit in plausible Vietnamese syllables (0 … 1).

    ASCII-only words are ignored (they decode the same in every encoding); a character that is
    not a letter (``¶``, ``¸``, a stray combining mark) counts against the text.
    """
    nfc = unicodedata.normalize("NFC", text)
    total = sum(ord(ch) > 127 for ch in nfc)
    if total == 0:
        return 1.0
    good = 0
    for word in re.findall(r"\w+", nfc):
        if not word.isascii() and _plausible_word(word):
            good += sum(ord(ch) > 127 for ch in word)
    return good / total


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode file bytes, detecting UTF-8, Windows-1258 or TCVN3.

    Parameters
    ----------
    data : bytes
        Raw file contents.

    Returns
    -------
    (str, str)
        NFC text and the encoding used: ``"utf-8"``, ``"utf-8-sig"``, ``"cp1258"`` or
        ``"tcvn3"``.

    Raises
    ------
    UnicodeError
        When no candidate decoding looks like Vietnamese; the caller turns it into a message
        telling the user to save the file as UTF-8.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return unicodedata.normalize("NFC", data[3:].decode("utf-8")), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates: list[tuple[float, int, str, str]] = []
    try:
        text = unicodedata.normalize("NFC", data.decode("cp1258"))
        candidates.append((vietnamese_score(text), 1, text, "cp1258"))
    except UnicodeDecodeError:
        pass
    text = decode_tcvn3(data)
    candidates.append((vietnamese_score(text), 0, text, "tcvn3"))
    score, _, text, encoding = max(candidates)
    if score < 0.8:
        raise UnicodeError(
            "not UTF-8, and neither Windows-1258 nor TCVN3 gives Vietnamese text"
            f" (best: {encoding}, {score:.0%} plausible)"
        )
    return text, encoding
