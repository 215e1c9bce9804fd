"""The README is an entrance, not the manual: it stays small, its layout map names every module of
the package (and nothing else), and every relative link or image of README.md and docs/*.md
points to a file that exists (and, with an anchor, to a heading that exists)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PACKAGE = ROOT / "adacm"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

#: the README's budget: what the suite is, how to start, the headline, the map, the links
MAX_README_BYTES = 12_500

#: a backticked path in the map: a module (``run/trainer.py``) or a subpackage (``run/``)
MAP_PATH = re.compile(r"^[A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)*(?:\.py|/)$")
FENCE = re.compile(r"^(```|~~~)")
#: [text](target) and ![alt](target), with an optional "title"
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def section(text: str, heading: str) -> list[str]:
    """The lines of the ``## heading`` section of a markdown text, up to the next ``## ``."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"## {heading}"]
    assert len(starts) == 1, f"README.md needs exactly one '## {heading}' section"
    body = []
    for line in lines[starts[0] + 1:]:
        if line.startswith("## "):
            break
        body.append(line)
    return body


def bullets(lines: list[str]) -> list[str]:
    """Top-level ``- `` bullets, each joined with its indented continuation lines."""
    items: list[str] = []
    current: list[str] | None = None
    for line in lines:
        if line.startswith("- "):
            current = [line[2:]]
            items.append("")
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line.strip())
        else:
            current = None
        if current is not None:
            items[-1] = " ".join(current)
    return items


def map_entries(readme_text: str) -> set[str]:
    """Every path the layout map names, relative to ``adacm/``.

    Format: one bullet per layer; a bullet that begins with a subpackage (``run/``) names the
    paths after it relative to that subpackage (``trainer.py`` is ``run/trainer.py``); a bullet that
    begins with a module names modules of ``adacm/`` itself."""
    named: set[str] = set()
    for item in bullets(section(readme_text, "Layout")):
        paths = [t for t in re.findall(r"`([^`]+)`", item) if MAP_PATH.match(t)]
        if not paths:
            continue
        prefix = paths[0] if paths[0].endswith("/") else ""
        named.add(paths[0])
        named.update(prefix + p for p in paths[1:])
    return named


def package_entries(package: Path) -> set[str]:
    """What the map must name: every module (``run/trainer.py``) and subpackage (``run/``) of the
    package; ``__init__.py`` files are covered by their subpackage's entry."""
    required: set[str] = set()
    for path in package.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package)
        if rel.name == "__init__.py":
            if rel.parent != Path("."):
                required.add(rel.parent.as_posix() + "/")
        else:
            required.add(rel.as_posix())
    return required


def exists_in_package(package: Path, entry: str) -> bool:
    target = package / entry.rstrip("/")
    return (target / "__init__.py").is_file() if entry.endswith("/") else target.is_file()


def test_readme_is_small() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_README_BYTES, (
        f"README.md is {size:,} bytes, over its {MAX_README_BYTES:,}: move detail to a page in docs/ and link it")


def test_layout_map_names_every_module_and_nothing_else() -> None:
    named = map_entries(README.read_text())
    required = package_entries(PACKAGE)
    assert named, "no layout map found in README.md's '## Layout' section"
    missing = sorted(required - named)
    assert not missing, f"README.md's layout map does not name {missing}: add each with a few words"
    stale = sorted(e for e in named if not exists_in_package(PACKAGE, e))
    assert not stale, f"README.md's layout map names {stale}, which do not exist under adacm/"


def test_layout_map_check_catches_a_new_module(tmp_path: Path) -> None:
    """The check above is not vacuous: a module added to a copy of the package without a map entry
    is reported, and so is a map entry for a module that does not exist."""
    package = tmp_path / "adacm"
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" not in path.parts:
            copy = package / path.relative_to(PACKAGE)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.touch()
    named = map_entries(README.read_text())
    assert package_entries(package) <= named
    (package / "run" / "brand_new.py").touch()
    assert package_entries(package) - named == {"run/brand_new.py"}
    (package / "report" / "tables.py").unlink()
    assert [e for e in named if not exists_in_package(package, e)] == ["report/tables.py"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            in_code = not in_code
        if in_code or not re.match(r"^#{1,6} ", line):
            continue
        base = slug(line.lstrip("#"))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link and image outside code blocks and inline code."""
    found: list[tuple[int, str]] = []
    in_code = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        found.extend((number, target) for target in LINK.findall(re.sub(r"`[^`]*`", "", line)))
    return found


def ignored_by_git(path: Path) -> bool:
    """Whether git ignores ``path`` (False outside a git work tree or without git)."""
    try:
        return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT, capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(document: Path) -> None:
    broken = []
    for number, target in links(document):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        destination = (document.parent / file_part).resolve() if file_part else document
        if not destination.exists():
            broken.append(f"line {number}: {target} (no such file)")
        elif destination.is_file() and ignored_by_git(destination):
            broken.append(f"line {number}: {target} (ignored by git: a fresh clone lacks it)")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"line {number}: {target} (no heading with that anchor)")
    where = document.relative_to(ROOT)
    assert not broken, f"{where} has broken links (relative to {where.parent}/):\n" + "\n".join(broken)
