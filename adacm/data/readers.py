"""Readers for the owners' on-disk layouts of RAF-DB, AffectNet, SFEW 2.0, CK+ and FER2013.

Researchers point the suite at their own copies, exactly as distributed. Each reader only
*indexes* its layout (which file, which label, which split); one shared decoder turns the
index into an in-memory ``Dataset``, so every layout gets the same image handling, the same
errors and the same fingerprint. Labels follow the RAF-DB order used by Ada-CM
(``CLASSES``), extended with 7 = contempt for the 8-class sets (CK+, AffectNet, FER+).

``Dataset.groups`` holds the subject of every *test* image for CK+ (its only split), so
evaluations can keep folds subject-disjoint; it is None for the other layouts.

Where a dataset has no released test labels (SFEW, AffectNet), its validation set is
``test`` and ``val`` is None, as in the paper.

Face alignment: readers take an ``align`` hook, a callable that gets each decoded RGB
``PIL.Image`` (after the dataset's own face-box crop) and returns the aligned face. The
suite ships no aligner: an MTCNN one (``facenet-pytorch``) pins an older torch than the
suite uses, so users wrap their own, e.g. ``align=lambda im: mtcnn_crop(im)``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from adacm.data.dataset import CLASSES, Dataset, Part
from adacm.errors import UserError
from adacm.paths import atomic_write_bytes

CLASSES8 = (*CLASSES, "contempt")
NEUTRAL = CLASSES8.index("neutral")
CONTEMPT = CLASSES8.index("contempt")
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm"})
Align = Callable[[Image.Image], Image.Image]

_ALIASES = {name: label for label, name in enumerate(CLASSES8)} | {
    "surprised": 0, "fearful": 1, "disgusted": 2, "happy": 3, "sad": 4, "angry": 5}


def label_of(name: str) -> int | None:
    """Our label for a class name or common alias (case-insensitive), None if unknown."""
    return _ALIASES.get(name.strip().lower())


def _table(*names: str) -> tuple[int, ...]:
    """A dataset's code -> label table, written in the dataset's own class names (code = position)."""
    return tuple(_ALIASES[name] for name in names)


_RAFDB = _table("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")  # codes 1-7
_AFFECTNET = _table("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")  # 8-10 dropped


def rafdb_code(label: int) -> int:
    """RAF-DB's label code (1-7 in list_patition_label.txt) of one of this suite's labels."""
    return _RAFDB.index(label) + 1


_CKPLUS = _table("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
_FER2013 = _table("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
_FERPLUS_VOTES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                  "unknown", "NF")
_FERPLUS = _table(*_FERPLUS_VOTES[:8])
_FER_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
_AFFECTNET_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
                      "facial_landmarks", "expression", "valence", "arousal")
_SPLIT_DIRS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_CK_NAME = re.compile(r"(S\d+)_\d+_\d+")
_DEFAULT_CLASSES = {"ckplus": 7}  # the paper's 636 CK+ images: 327 neutral first frames + 309 non-contempt peaks


@dataclass(frozen=True)
class _Item:
    """One sample as a reader indexes it, before anything is decoded."""

    split: str
    label: int
    where: str  # where the label came from ("file line N" or a class folder), for messages
    path: Path | None = None  # the image file; None for FER2013, whose pixels are in the csv
    pixels: str = ""
    box: tuple[int, int, int, int] | None = None  # AffectNet face box: left, top, right, bottom
    group: str = ""  # CK+ subject


@dataclass(frozen=True)
class _Index:
    """A reader's output: the samples, the classes the dataset must have, and the splits that need them all."""

    items: list[_Item]
    classes: frozenset[int]
    splits: tuple[str, ...]


class _Context:
    """What every reader shares: the root, one error policy, and the digests of the files read."""

    def __init__(self, root: Path, layout: str, strict: bool) -> None:
        self.root, self.layout, self.strict = root, layout, strict
        self.digests: dict[str, str] = {}
        self.problems: list[str] = []
        self.notes: list[str] = []

    def problem(self, message: str) -> None:
        """Stop at the first problem when reading (no partial results); collect them all when checking."""
        if self.strict:
            raise UserError(message)
        self.problems.append(message)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def need(self, path: Path) -> Path:
        if not path.exists():
            raise UserError(f"{path} not found: the {self.layout!r} layout needs it; point PATH at the dataset's "
                            "top folder or pass the right --layout")
        return path

    def child(self, name: str) -> Path:
        """A required sub-folder, matched case-insensitively (copies differ in capitalisation)."""
        return self.need(_child(self.root, name) or self.root / name)

    def read_bytes(self, path: Path) -> bytes:
        data = path.read_bytes()
        self.digests[self.rel(path)] = hashlib.sha256(data).hexdigest()
        return data

    def read_text(self, path: Path) -> str:
        try:
            return self.read_bytes(self.need(path)).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserError(f"{path} is not a text file ({exc.reason} at byte {exc.start}): re-copy it") from exc
        except OSError as exc:
            raise UserError(f"cannot read {path} ({exc.strerror}): fix its permissions or re-copy it") from exc

    def fingerprint(self) -> str:
        """sha256 over the sorted relative paths and sha256 digests of every file read."""
        digest = hashlib.sha256()
        for rel in sorted(self.digests):
            digest.update(f"{rel}\0{self.digests[rel]}\n".encode())
        return digest.hexdigest()


def _child(folder: Path, name: str) -> Path | None:
    return next((p for p in _subdirs(folder) if p.name.lower() == name.lower()), None)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())


def _code(ctx: _Context, where: str, text: str, codes: range) -> int | None:
    """An integer label code (CK+ writes them as floats, ``3.0000000e+00``), checked against its range."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value.is_integer() and int(value) in codes:
        return int(value)
    ctx.problem(f"{where}: label {text.strip()!r} is not a code {codes.start}-{codes.stop - 1}: fix or remove it")
    return None


def _lines(ctx: _Context, path: Path) -> Iterator[tuple[str, list[str]]]:
    """Non-blank lines of a whitespace-separated label file, with 'file line N' for messages."""
    for number, line in enumerate(ctx.read_text(path).splitlines(), 1):
        if line.strip():
            yield f"{ctx.rel(path)} line {number}", line.split()


def _csv_rows(ctx: _Context, path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    """Rows of a csv as dicts; the header is optional (AffectNet's validation.csv has none)."""
    reader = csv.reader(io.StringIO(ctx.read_text(path)))
    numbered = [(reader.line_num, row) for row in reader]
    header = [name.strip() for name in numbered[0][1]] if numbered else []
    has_header = set(columns) <= set(header)
    order = [header.index(c) for c in columns] if has_header else list(range(len(columns)))
    for line, row in numbered[int(has_header):]:
        if not row:
            continue
        where = f"{ctx.rel(path)} line {line}"
        if len(row) < len(header if has_header else columns):
            ctx.problem(f"{where}: expected the columns {', '.join(columns)}, got {len(row)} fields: fix or remove it")
            continue
        yield where, {c: row[i] for c, i in zip(columns, order)}


def _class_folders(ctx: _Context, folder: Path, split: str, allowed: frozenset[int]) -> tuple[list[_Item], set[int]]:
    """Images in ``folder/<class name>/``, and the labels whose folders exist (even empty ones)."""
    items: list[_Item] = []
    labels: set[int] = set()
    for sub in _subdirs(folder):
        label = label_of(sub.name)
        if label not in allowed:
            names = ", ".join(CLASSES8[i] for i in sorted(allowed))
            ctx.problem(f"{ctx.rel(sub)}: {sub.name!r} is not a class folder name here (expected {names} or an "
                        "alias such as angry, happy, sad): rename or remove it")
            continue
        labels.add(label)
        items += [_Item(split, label, ctx.rel(sub), p) for p in _images(sub)]
    return items, labels


def _read_rafdb(ctx: _Context) -> _Index:
    """RAF-DB basic: EmoLabel/list_patition_label.txt; aligned faces preferred, original images as fallback."""
    images = ctx.root / "Image"
    items = []
    for where, fields in _lines(ctx, ctx.root / "EmoLabel" / "list_patition_label.txt"):
        if len(fields) != 2 or not fields[0].startswith(("train_", "test_")):
            ctx.problem(f"{where}: expected 'train_NNNNN.jpg <label 1-7>' (or test_...), got {' '.join(fields)!r}: "
                        "fix or remove the line")
            continue
        name, text = fields
        code = _code(ctx, where, text, range(1, 8))
        if code is None:
            continue
        aligned = images / "aligned" / f"{Path(name).stem}_aligned.jpg"
        original = images / "original" / name
        path = original if original.is_file() and not aligned.is_file() else aligned
        items.append(_Item(name.split("_", 1)[0], _RAFDB[code - 1], where, path))
    return _Index(items, frozenset(range(7)), ("train", "test"))


def _affectnet_label(ctx: _Context, where: str, text: str | None) -> int | None:
    """Codes 0-7 are emotions; 8 none, 9 uncertain and 10 no-face are dropped (not expressions)."""
    code = None if text is None else _code(ctx, where, text, range(11))
    return None if code is None or code >= len(_AFFECTNET) else _AFFECTNET[code]


def _face_box(ctx: _Context, where: str, row: dict[str, str]) -> tuple[int, int, int, int] | None:
    values = [row[k].strip() for k in ("face_x", "face_y", "face_width", "face_height")]
    if all(v.isdigit() for v in values) and int(values[2]) > 0 and int(values[3]) > 0:
        x, y, w, h = map(int, values)
        return x, y, x + w, y + h
    ctx.problem(f"{where}: face box {values} is not x, y >= 0 and width, height > 0: fix or remove the line")
    return None


def _read_affectnet(ctx: _Context) -> _Index:
    """AffectNet: Manually_Annotated_file_lists/{training,validation}.csv; faces cropped by their box."""
    lists, images = ctx.child("Manually_Annotated_file_lists"), ctx.child("Manually_Annotated_Images")
    items = []
    for split, name in (("train", "training.csv"), ("test", "validation.csv")):
        for where, row in _csv_rows(ctx, lists / name, _AFFECTNET_COLUMNS):
            label = _affectnet_label(ctx, where, row["expression"])
            box = None if label is None else _face_box(ctx, where, row)
            if box is not None:
                items.append(_Item(split, label, where, images / row["subDirectory_filePath"], box=box))
    return _Index(items, frozenset(range(8)), ("train", "test"))


def _npy_text(ctx: _Context, path: Path) -> str | None:
    try:
        return str(np.load(io.BytesIO(ctx.read_bytes(path)), allow_pickle=False).item())
    except (ValueError, OSError, EOFError) as exc:
        ctx.problem(f"{ctx.rel(path)}: unreadable label file ({' '.join(str(exc).split())}): re-copy it")
        return None


def _read_affectnet_npy(ctx: _Context) -> _Index:
    """The common re-packaged AffectNet: {train,val}_set/images/<id>.jpg + annotations/<id>_exp.npy."""
    items = []
    for split, name in (("train", "train_set"), ("test", "val_set")):
        folder = ctx.child(name)
        images = {p.stem: p for p in _images(ctx.need(folder / "images"))}
        for npy in sorted(ctx.need(folder / "annotations").glob("*_exp.npy")):
            where = ctx.rel(npy)
            label = _affectnet_label(ctx, where, _npy_text(ctx, npy))
            stem = npy.name.removesuffix("_exp.npy")
            if label is not None:
                items.append(_Item(split, label, where, images.get(stem, folder / "images" / f"{stem}.jpg")))
    return _Index(items, frozenset(range(8)), ("train", "test"))


def _read_sfew(ctx: _Context) -> _Index:
    """SFEW 2.0: Train/<Emotion>/ for training, Val/<Emotion>/ as test (test labels were never released)."""
    seven = frozenset(range(7))
    items = [*_class_folders(ctx, ctx.child("Train"), "train", seven)[0],
             *_class_folders(ctx, ctx.child("Val"), "test", seven)[0]]
    test = _child(ctx.root, "Test")
    if test is not None:
        count = sum(1 for p in test.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        ctx.notes.append(f"{test.name}/ holds {count} unlabeled images, not loaded (SFEW's test labels were never "
                         "released; Val serves as test)")
    return _Index(items, seven, ("train", "test"))


def _read_ckplus(ctx: _Context) -> _Index:
    """CK+: per labeled sequence, the first frame as neutral and the labeled (last) frame as the expression."""
    emotions, frames_root = ctx.child("Emotion"), ctx.child("cohn-kanade-images")
    items = []
    for txt in sorted(emotions.glob("*/*/*_emotion.txt")):
        where = f"{ctx.rel(txt)} line 1"
        code = _code(ctx, where, ctx.read_text(txt).strip(), range(8))
        if code is None:
            continue
        sequence = frames_root / txt.parent.relative_to(emotions)
        peak = sequence / f"{txt.name.removesuffix('_emotion.txt')}.png"
        frames = _images(sequence) if sequence.is_dir() else []
        subject = txt.parent.parent.name
        if frames and frames[0] != peak:
            items.append(_Item("test", NEUTRAL, where, frames[0], group=subject))
        items.append(_Item("test", _CKPLUS[code], where, peak, group=subject))
    return _Index(items, frozenset(range(8)), ("test",))


def _read_ckplus48(ctx: _Context) -> _Index:
    """CK+48: CK+48/<emotion>/S###_###_########.png, the last three frames of each sequence, no neutral."""
    emotions = frozenset(range(8)) - {NEUTRAL}
    found, _ = _class_folders(ctx, _child(ctx.root, "CK+48") or ctx.root, "test", emotions)
    items = []
    for item in found:
        match = _CK_NAME.match(item.path.name)
        if match is None:
            ctx.problem(f"{ctx.rel(item.path)}: no subject in the file name (expected S###_###_########.png): "
                        "rename it as in CK+")
            continue
        items.append(replace(item, group=match[1]))
    return _Index(items, emotions, ("test",))


def _ferplus_labels(ctx: _Context, rows: list[tuple[str, dict[str, str]]]) -> list[int | None]:
    """FER+ majority labels from fer2013new.csv; None where unknown/not-a-face wins or the top votes tie."""
    path = ctx.root / "fer2013new.csv"
    votes = list(_csv_rows(ctx, path, ("Usage", "Image name", *_FERPLUS_VOTES)))
    if len(votes) != len(rows):
        raise UserError(f"{path} has {len(votes)} rows but fer2013.csv has {len(rows)}: use the fer2013new.csv "
                        "that matches this fer2013.csv")
    labels: list[int | None] = []
    for (where, row), (_, fer) in zip(votes, rows):
        counts = [int(row[c]) if row[c].strip().isdigit() else -1 for c in _FERPLUS_VOTES]
        if min(counts) < 0 or row["Usage"].strip() != fer["Usage"].strip():
            ctx.problem(f"{where}: expected fer2013.csv's Usage and 10 vote counts, got {list(row.values())[:12]}: "
                        "re-download fer2013new.csv")
            labels.append(None)
            continue
        top = [i for i, c in enumerate(counts) if c == max(counts)]
        labels.append(_FERPLUS[top[0]] if len(top) == 1 and top[0] < len(_FERPLUS) else None)
    return labels


def _read_fer2013(ctx: _Context, ferplus: bool = False) -> _Index:
    """FER2013 csv (Usage Training/PublicTest/PrivateTest = train/val/test); FER+ majority labels if asked."""
    rows = list(_csv_rows(ctx, ctx.root / "fer2013.csv", ("emotion", "pixels", "Usage")))
    if ferplus:
        labels = _ferplus_labels(ctx, rows)
    else:
        codes = [_code(ctx, where, row["emotion"], range(7)) for where, row in rows]
        labels = [None if code is None else _FER2013[code] for code in codes]
    items = []
    for (where, row), label in zip(rows, labels):
        split = _FER_USAGE.get(row["Usage"].strip())
        if split is None:
            ctx.problem(f"{where}: Usage {row['Usage']!r} is not Training, PublicTest or PrivateTest: fix the line")
        elif label is not None:
            items.append(_Item(split, label, where, pixels=row["pixels"]))
    return _Index(items, frozenset(range(8 if ferplus else 7)), SPLITS)


def _split_dirs(root: Path) -> dict[str, Path]:
    return {_SPLIT_DIRS[p.name.lower()]: p for p in _subdirs(root) if p.name.lower() in _SPLIT_DIRS}


def _read_folders(ctx: _Context) -> _Index:
    """Generic <split>/<class name>/ trees; the class folders present define the classes every split needs."""
    splits = _split_dirs(ctx.root)
    if "test" not in splits:
        raise UserError(f"{ctx.root} has no test/<class>/ folders: the class-per-folder layout needs test/ "
                        "(train/ and val/ are optional)")
    items: list[_Item] = []
    classes: set[int] = set()
    for split, folder in splits.items():
        found, labels = _class_folders(ctx, folder, split, frozenset(range(8)))
        items += found
        classes |= labels
    return _Index(items, frozenset(classes), tuple(splits))


def _is_sfew(root: Path) -> bool:
    """Train/ and Val/ with class folders, and no labeled Test/ (that would be the generic layout)."""
    train, val, test = (_child(root, name) for name in ("Train", "Val", "Test"))
    return (train is not None and val is not None
            and (test is None or not any(label_of(p.name) is not None for p in _subdirs(test))))


@dataclass(frozen=True)
class _Layout:
    read: Callable[[_Context], _Index]
    looks_for: str
    matches: Callable[[Path], bool] | None  # None: never inferred, only chosen by name


LAYOUTS: dict[str, _Layout] = {  # in detection order: the first match wins
    "rafdb": _Layout(_read_rafdb, "EmoLabel/list_patition_label.txt (RAF-DB basic)",
                     lambda r: (r / "EmoLabel" / "list_patition_label.txt").is_file()),
    "affectnet": _Layout(_read_affectnet, "Manually_Annotated_file_lists/ (AffectNet)",
                         lambda r: (r / "Manually_Annotated_file_lists").is_dir()),
    "affectnet_npy": _Layout(_read_affectnet_npy,
                             "train_set/annotations/ and val_set/annotations/ (re-packaged AffectNet)",
                             lambda r: any((r / s / "annotations").is_dir() for s in ("train_set", "val_set"))),
    "ckplus": _Layout(_read_ckplus, "cohn-kanade-images/ and Emotion/ (CK+)",
                      lambda r: (r / "cohn-kanade-images").is_dir() and (r / "Emotion").is_dir()),
    "ckplus48": _Layout(_read_ckplus48, "CK+48/<emotion>/ (CK+48)",
                        lambda r: (r / "CK+48").is_dir() or r.name.upper() == "CK+48"),
    "fer2013": _Layout(_read_fer2013, "fer2013.csv (FER2013)", lambda r: (r / "fer2013.csv").is_file()),
    "ferplus": _Layout(lambda ctx: _read_fer2013(ctx, ferplus=True),
                       "fer2013.csv + fer2013new.csv (FER+ majority labels; by name only)", None),
    "sfew": _Layout(_read_sfew, "Train/<Emotion>/ and Val/<Emotion>/ (SFEW 2.0)", _is_sfew),
    "folders": _Layout(_read_folders, "train/, val/, test/ holding <class name>/ folders (class-per-folder)",
                       lambda r: bool(_split_dirs(r))),
}


def _existing_dir(root: str | PathLike[str]) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise UserError(f"{path} does not exist: pass the folder that holds the dataset")
    if not path.is_dir():
        raise UserError(f"{path} is a file, not a folder: pass the folder that holds it ({path.parent})")
    return path


def detect_layout(root: str | PathLike[str]) -> str:
    """Infer the layout from the files present, so users need not name it."""
    path = _existing_dir(root)
    for name, layout in LAYOUTS.items():
        if layout.matches is not None and layout.matches(path):
            return name
    looked = "; ".join(f"{name}: {layout.looks_for}" for name, layout in LAYOUTS.items())
    raise UserError(f"no known dataset layout in {path} (looked for {looked}): point PATH at the dataset's top "
                    "folder or pass --layout")


def _open_image(ctx: _Context, item: _Item) -> Image.Image | None:
    """Decode one image fully (``load()``), so truncation shows up here and names the file."""
    if item.path is None:
        try:
            pixels = np.array(item.pixels.split(), dtype=np.int64)
        except ValueError:
            pixels = np.zeros(0, np.int64)
        if pixels.size == 48 * 48 and pixels.min() >= 0 and pixels.max() <= 255:
            return Image.fromarray(pixels.astype(np.uint8).reshape(48, 48))
        ctx.problem(f"{item.where}: pixels are not 2304 grey values 0-255: re-download the csv")
        return None
    try:
        data = ctx.read_bytes(item.path)
    except FileNotFoundError:
        ctx.problem(f"{item.where} refers to {ctx.rel(item.path)}, which is missing: restore the image or remove "
                    "its label")
        return None
    except OSError as exc:
        ctx.problem(f"{ctx.rel(item.path)}: cannot read it ({exc.strerror}): fix its permissions or re-copy it")
        return None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        unknown = isinstance(exc, UnidentifiedImageError)
        reason = "not an image format PIL reads" if unknown else " ".join(str(exc).split())
        ctx.problem(f"{ctx.rel(item.path)}: corrupt or truncated image ({reason}): re-copy or delete it")
        return None
    return image


def _to_array(ctx: _Context, item: _Item, image: Image.Image, size: int, grey: bool,
              align: Align | None) -> np.ndarray | None:
    """Crop the dataset's face box, align, convert and resize (Lanczos, as the suite's npz files)."""
    if item.box is not None:
        left, top, right, bottom = item.box
        right, bottom = min(right, image.width), min(bottom, image.height)
        if right <= left or bottom <= top:
            ctx.problem(f"{item.where}: face box {item.box} lies outside the {image.width}x{image.height} image: "
                        "fix the line")
            return None
        image = image.crop((left, top, right, bottom))
    if align is not None:
        image = align(image.convert("RGB"))
    image = image.convert("L" if grey else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class Inspection:
    """What ``adacm data check`` reports: the data as read, and everything wrong with it."""

    layout: str
    dataset: Dataset
    problems: list[str]
    notes: list[str]
    duplicates: list[list[str]]  # exact copies by decoded pixels, one list of '<file> [split class]' per group


def _read(root: str | PathLike[str], layout: str | None, size: int, grey: bool, classes: int | None,
          align: Align | None, progress: bool, strict: bool) -> Inspection:
    path = _existing_dir(root)
    layout = detect_layout(path) if layout is None else layout
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    classes = _DEFAULT_CLASSES.get(layout, 8) if classes is None else classes
    if classes not in (7, 8):
        raise UserError(f"classes={classes}: choose 7 (RAF-DB's, no contempt) or 8 (with contempt)")
    if size < 1:
        raise UserError(f"size={size}: choose a positive image size such as 48 or 224")
    ctx = _Context(path, layout, strict)
    index = LAYOUTS[layout].read(ctx)
    if classes == 7:
        index = _Index([i for i in index.items if i.label != CONTEMPT], index.classes - {CONTEMPT}, index.splits)
    columns: dict[str, tuple[list[np.ndarray], list[int], list[str]]] = {s: ([], [], []) for s in SPLITS}
    copies: dict[str, list[str]] = defaultdict(list)
    for item in tqdm(index.items, desc=f"reading {layout}", unit="img", disable=not progress):
        image = _open_image(ctx, item)
        array = None if image is None else _to_array(ctx, item, image, size, grey, align)
        if array is None:
            continue
        xs, ys, groups = columns[item.split]
        xs.append(array)
        ys.append(item.label)
        groups.append(item.group)
        if not strict:
            name = ctx.rel(item.path) if item.path is not None else item.where
            copies[hashlib.sha256(image.tobytes()).hexdigest()].append(f"{name} [{item.split} {CLASSES8[item.label]}]")
    for split in index.splits:
        for label in sorted(index.classes - set(columns[split][1])):
            ctx.problem(f"class {CLASSES8[label]!r} has no {split} images in {path}: add them, or check the label "
                        "files and folder names")

    def part(split: str) -> Part:
        xs, ys, _ = columns[split]
        x = np.stack(xs) if xs else np.zeros((0, size, size) if grey else (0, size, size, 3), np.uint8)
        return Part(x=x, y=np.array(ys, dtype=np.int64))

    test_groups = columns["test"][2]
    dataset = Dataset(name=layout, train=part("train"), val=part("val") if "val" in index.splits else None,
                      test=part("test"), fingerprint={f"{layout}:{path.resolve().name}": ctx.fingerprint()},
                      groups=np.array(test_groups) if any(test_groups) else None)
    duplicates = [names for names in copies.values() if len(names) > 1]
    return Inspection(layout, dataset, ctx.problems, ctx.notes, duplicates)


def read_dataset(root: str | PathLike[str], layout: str | None = None, size: int = 48, grey: bool = True,
                 classes: int | None = None, align: Align | None = None, progress: bool = False) -> Dataset:
    """Read a dataset in its owner's layout (named, or inferred by ``detect_layout``) into memory.

    Images come back as uint8 ``[N,size,size]`` (grey) or ``[N,size,size,3]``; ``classes=7``
    drops contempt, 8 keeps it where the dataset has it (default 8, except CK+: 7, the paper's
    636 images). Any problem raises ``UserError``: there are no partial results.
    """
    return _read(root, layout, size, grey, classes, align, progress, strict=True).dataset


def inspect_dataset(root: str | PathLike[str], layout: str | None = None, classes: int | None = None) -> Inspection:
    """Read leniently at 48x48 grey, collecting every problem and exact duplicate instead of stopping."""
    return _read(root, layout, 48, True, classes, None, False, strict=False)


def subsample_per_class(part: Part, per_class: int = 500, seed: int = 0) -> Part:
    """A seeded class-balanced subset: the paper evaluates AffectNet on 500 validation images per class."""
    if not len(part):
        raise UserError("cannot subsample an empty split: check that the dataset was read with its labels")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(part.y):
        pool = np.flatnonzero(part.y == label)
        if len(pool) < per_class:
            raise UserError(f"class {CLASSES8[label]!r} has {len(pool)} images, fewer than {per_class}: "
                            "ask for fewer per class")
        chosen.append(rng.choice(pool, per_class, replace=False))
    keep = np.sort(np.concatenate(chosen))
    return Part(x=part.x[keep], y=part.y[keep])


def count_table(dataset: Dataset) -> str:
    """Images per split and class, as a small text table."""
    parts = {s: p for s, p in zip(SPLITS, (dataset.train, dataset.val, dataset.test)) if p is not None and len(p)}
    labels = sorted({int(v) for p in parts.values() for v in np.unique(p.y)})
    header = ["split", *(CLASSES8[i] for i in labels), "total"]
    rows = [[s, *(str(int((p.y == i).sum())) for i in labels), str(len(p))] for s, p in parts.items()]
    widths = [max(len(r[c]) for r in (header, *rows)) for c in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(r, widths)))
                     for r in (header, *rows))


def write_npz(dataset: Dataset, path: Path) -> str:
    """Write the suite's npz format (x, y, split, classes; subject for CK+) atomically; return its sha256."""
    parts = [(s, p) for s, p in zip(SPLITS, (dataset.train, dataset.val, dataset.test)) if p is not None]
    arrays = {"x": np.concatenate([p.x for _, p in parts]), "y": np.concatenate([p.y for _, p in parts]),
              "split": np.array([s for s, p in parts for _ in range(len(p))], dtype="<U5"),
              "classes": np.array(CLASSES8, dtype="<U9")}
    if dataset.groups is not None:  # groups belong to test, which comes last
        arrays["subject"] = np.concatenate([np.full(len(arrays["y"]) - len(dataset.groups), ""), dataset.groups])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror}): choose a writable --out") from exc
    return hashlib.sha256(buffer.getvalue()).hexdigest()
