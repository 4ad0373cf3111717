"""The documentation's links: README.md and docs/*.md link only to files that exist, stay inside the repository,
and README.md stays short. No browser, no database."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250

# [text](target) and ![alt](target), with an optional "title"; the target may be wrapped in <...>.
LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Any relative path that starts by climbing: ../x, ../../x (in prose, code or links alike).
CLIMB = re.compile(r"(?<![\w./-])((?:\.\./)+[^\s`'\"()<>\]\[,;]*)")


def doc_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def strip_code(text: str) -> str:
    """The text with fenced blocks and inline code removed: a link inside code is not a link."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link and image in ``path``, outside code."""
    text = strip_code(path.read_text(encoding="utf-8"))
    return [(text.count("\n", 0, m.start()) + 1, m.group("target")) for m in LINK.finditer(text)]


def relative_targets(path: Path) -> list[tuple[int, str, Path]]:
    """(line, target, resolved file) of each relative link: no scheme, no mailto, not a bare #anchor."""
    found = []
    for line, target in links(path):
        if SCHEME.match(target) or target.startswith("#") or target.startswith("//"):
            continue
        file_part = target.split("#", 1)[0].split("?", 1)[0]
        if not file_part:
            continue
        base = ROOT if file_part.startswith("/") else path.parent
        found.append((line, target, (base / file_part.lstrip("/")).resolve()))
    return found


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_doc_files_exist():
    assert (ROOT / "README.md").is_file()
    assert len(doc_files()) > 1, "docs/ holds no .md file"


def test_every_relative_link_points_to_an_existing_file():
    broken = [f"{where(path, line)}: {target}"
              for path in doc_files()
              for line, target, resolved in relative_targets(path)
              if not resolved.exists()]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_is_at_most_250_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, at most {README_MAX_LINES} wanted"


def test_nothing_points_outside_the_repository():
    outside = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if "../shared" in line:
                outside.append(f"{where(path, number)}: mentions ../shared")
            for match in CLIMB.finditer(line):
                resolved = (path.parent / match.group(1)).resolve()
                if not resolved.is_relative_to(ROOT):
                    outside.append(f"{where(path, number)}: {match.group(1)} climbs out of the repository")
        for line, target, resolved in relative_targets(path):
            if not resolved.is_relative_to(ROOT):
                outside.append(f"{where(path, line)}: link {target} leads out of the repository")
    assert not outside, "references outside the repository:\n" + "\n".join(sorted(set(outside)))


def test_the_link_finder_sees_links_and_images_but_not_code():
    text = ("see [ops](operating.md#the-sampler) and ![shot](screenshot.png \"title\"), "
            "[web](https://example.com), [top](#top), [mail](mailto:a@b)\n"
            "`[not](a-link.md)`\n```\n[nor](this.md)\n```\n")
    found = [m.group("target") for m in LINK.finditer(strip_code(text))]
    assert found == ["operating.md#the-sampler", "screenshot.png", "https://example.com", "#top", "mailto:a@b"]
