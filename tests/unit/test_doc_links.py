"""Every relative link in README.md and docs/ leads somewhere: the file (or folder) exists, and
an anchor names a heading of the page it points into, as GitHub makes anchors from headings."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Pages generated on another branch of the same change (the settings model writes
# docs/configuration.md with `make docs`): until it lands, a plain link to one is let through;
# once the page exists it is checked like any other.
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
CODE_SPAN = re.compile(r"(`+).*?\1")
HTML_ID = re.compile(r"""<[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""")


def pages(root: Path) -> list[Path]:
    return sorted([root / "README.md", *(root / "docs").rglob("*.md")])


def _prose(text: str) -> list[str]:
    """The page's lines outside fenced code blocks (a `#` there is a comment, not a heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text as shown (link targets and emphasis marks
    dropped), lower case, punctuation other than - and _ removed, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(page.read_text()):
        found |= set(HTML_ID.findall(line))
        m = HEADING.match(line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    out = []
    for line in _prose(page.read_text()):
        m = REFERENCE.match(line)
        if m:
            out.append(m.group(1))
            continue
        out += INLINE_LINK.findall(CODE_SPAN.sub("", line))
    return out


def broken(root: Path, page: Path, target: str) -> str | None:
    """Why a link from the page does not resolve, or None when it does (or is not relative)."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
        return None  # http:, https:, mailto:: not ours to check here
    path, _, anchor = target.partition("#")
    path = path.split("?", 1)[0]
    dest = (page.parent / path).resolve() if path else page
    if root not in dest.parents and dest != root:
        return "points outside the repository"
    name = dest.relative_to(root).as_posix()
    if not dest.exists():
        return f"{name} does not exist"
    if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
        return f"{name} has no heading for #{anchor}"
    return None


def problems(root: Path) -> list[str]:
    root, out = root.resolve(), []
    for page in pages(root):
        for target in links(page):
            why = broken(root, page, target)
            if why:
                out.append(f"{page.relative_to(root)}: ({target}) {why}")
    return out


def test_every_relative_link_and_anchor_resolves():
    assert not problems(ROOT), "broken links:\n" + "\n".join(problems(ROOT))


def test_the_pages_hold_links_to_check():
    found = {page.relative_to(ROOT).as_posix(): links(page) for page in pages(ROOT)}
    assert any(t.startswith("docs/") for t in found["README.md"])
    assert sum(len(v) for v in found.values()) > 50


def test_a_broken_file_or_anchor_is_found(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "sub" / "page.md").write_text(
        "# Page\n\n## Bounces and complaints: `POST /webhooks/{provider}`\n\n## Twice\n\n"
        "## Twice\n\n```sh\n# not a heading\n```\n"
    )
    (tmp_path / "README.md").write_text(
        "[ok](docs/sub/page.md#bounces-and-complaints-post-webhooksprovider)\n"
        "[ok](docs/sub/page.md#twice-1) [ok](#intro) [ok](https://example.org/x.md)\n"
        "`[not a link](nowhere.md)`\n"
        "# Intro\n"
        "[bad](docs/missing.md) [bad](docs/sub/page.md#not-a-heading)\n"
        "[bad](#nowhere) [bad](docs/configuration.md#service)\n"
        "[bad](docs/configuration.md)\n\n"
        "[ref]: docs/sub/gone.md\n"
    )
    assert problems(tmp_path) == [
        "README.md: (docs/missing.md) docs/missing.md does not exist",
        "README.md: (docs/sub/page.md#not-a-heading) docs/sub/page.md has no heading for "
        "#not-a-heading",
        "README.md: (#nowhere) README.md has no heading for #nowhere",
        "README.md: (docs/configuration.md#service) docs/configuration.md does not exist",
        "README.md: (docs/configuration.md) docs/configuration.md does not exist",
        "README.md: (docs/sub/gone.md) docs/sub/gone.md does not exist",
    ]
