"""The served lessons' Chinese terms, in a font that ships with mtlviz.

Every lesson gives the seed's Chinese terms beside the English ones (元学习, 模型无关元学习, ...).
A browser draws them with a font of the student's machine; a machine without a Chinese font (a
minimal Linux, this project's own test machines before ``fonts-noto-cjk``) draws an empty box for
each character, and an offline classroom cannot fetch one. The served pages therefore carry
their own: Noto Sans CJK SC (SIL Open Font License 1.1, ``NOTO-CJK-LICENSE.txt`` beside it),
cut down to the Chinese characters the lessons use (157, 44 KB on 2026-12-05), as
``templates/mtlviz/static/mtlviz-cjk.woff``. The template names it in its fonts after the
usual system fonts, for the CJK ranges only (``unicode-range``), so a page whose text has no
Chinese never fetches it.

Regenerate it after a lesson gains a Chinese character (``tests/test_cjk_font.py`` fails until
then, naming the characters):

    apt-get install fonts-noto-cjk       # the full font, 57 MB, needed only to regenerate
    python -m mtlviz.serve.cjk_font      # writes the subset; prints the characters and its size
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Iterable, Optional, Set

__all__ = ["CJK", "FONT_PATH", "RANGES", "SOURCE_FONT", "build", "lesson_characters", "main", "unicode_range"]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).resolve().parent / "share" / "voila" / "templates" / "mtlviz"
FONT_PATH = TEMPLATE / "static" / "mtlviz-cjk.woff"
#: Debian's fonts-noto-cjk; its Simplified Chinese face is the subset's source.
SOURCE_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_FAMILY = "Noto Sans CJK SC"
#: The Unicode ranges the served font is for (the template's ``unicode-range``): CJK punctuation,
#: the unified ideographs and their extension A, and the full-width forms (，：).
RANGES = ((0x3000, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))
CJK = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in RANGES) + "]")


def unicode_range() -> str:
    """:data:`RANGES` as CSS writes them in ``@font-face``'s ``unicode-range``."""
    return ", ".join(f"U+{low:04X}-{high:04X}" for low, high in RANGES)


def lesson_characters(notebooks: Optional[Iterable[Path]] = None) -> Set[str]:
    """The CJK characters in the lessons: every cell's source and every stored output."""
    if notebooks is None:
        notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    found: Set[str] = set()
    for path in notebooks:
        for cell in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]:
            found.update(CJK.findall("".join(cell.get("source", ""))))
            for output in cell.get("outputs", []):
                found.update(CJK.findall(json.dumps(output, ensure_ascii=False)))
    return found


def build(characters: Set[str], source: Path = SOURCE_FONT, out: Path = FONT_PATH) -> int:
    """Write the subset of ``source``'s Simplified Chinese face covering ``characters`` as WOFF;
    return its size in bytes."""
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    if not characters:
        raise ValueError("characters must name at least one CJK character, got none")
    if not source.is_file():
        raise FileNotFoundError(f"{source} is missing: apt-get install fonts-noto-cjk (needed only to regenerate)")
    faces = [font for font in TTCollection(str(source)).fonts if font["name"].getDebugName(1) == SOURCE_FAMILY]
    if not faces:
        raise ValueError(f"{source} has no {SOURCE_FAMILY} face")
    font = faces[0]
    options = subset.Options()
    options.flavor = "woff"
    options.hinting = False
    options.desubroutinize = True
    options.name_IDs = ["*"]  # keep the copyright and licence names
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters))
    subsetter.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff"
    font.recalcTimestamp = False  # keep the source's dates: the same characters give the same bytes
    font.save(str(out), reorderTables=True)
    return out.stat().st_size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the lessons' Chinese characters as a small web font.")
    parser.add_argument("--source", type=Path, default=SOURCE_FONT, help=f"the full font (default {SOURCE_FONT})")
    args = parser.parse_args(argv)
    characters = lesson_characters()
    size = build(characters, args.source)
    print(f"{FONT_PATH.relative_to(ROOT)}: {len(characters)} characters, {size / 1024:.1f} KB")
    print("".join(sorted(characters)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
