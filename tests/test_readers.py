"""Readers for the owners' layouts (issue 6), on tiny fake trees in each real layout.

Every image is a flat grey square whose value encodes its intended label (plus one unique
corner pixel, so that no two are exact copies unless a test makes them so); reading the
value back checks that each image lands with the right label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_ckplus, make_rafdb, make_sfew, save, value_of
from PIL import Image

from adacm.data.dataset import Part
from adacm.data.readers import (
    CLASSES8,
    detect_layout,
    inspect_dataset,
    read_dataset,
    subsample_per_class,
)
from adacm.errors import UserError


def labels_from_pixels(x: np.ndarray) -> np.ndarray:
    """Invert ``value_of`` from the image medians (robust to the corner pixel and JPEG)."""
    medians = np.median(x.reshape(len(x), -1), axis=1)
    return np.rint((medians - 20) / 25).astype(np.int64)


# --- fake trees, one per layout (RAF-DB, SFEW and CK+: conftest.py) ----------------------

AFFECTNET_CODES = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")


def make_affectnet(root: Path) -> Path:
    """training.csv with a header and codes 0-10; validation.csv without a header (as distributed)."""
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
    for name, codes, with_header in (("training.csv", range(11), True), ("validation.csv", range(8), False)):
        rows = [header] if with_header else []
        for code in codes:
            rel = f"{100 + code}/{name[:5]}_{code}.jpg"
            label = CLASSES8.index(AFFECTNET_CODES[code]) if code < 8 else 0
            pixels = np.zeros((40, 40, 3), np.uint8)
            pixels[10:30, 12:32] = value_of(label)  # the face box: x 12, y 10, 20x20
            (root / "Manually_Annotated_Images" / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / "Manually_Annotated_Images" / rel)
            rows.append(f'{rel},12,10,20,20,"1.0;2.0;3.0;4.0",{code},0.1,-0.2')
        (root / "Manually_Annotated_file_lists").mkdir(parents=True, exist_ok=True)
        (root / "Manually_Annotated_file_lists" / name).write_text("\n".join(rows) + "\n")
    return root


def make_affectnet_npy(root: Path) -> Path:
    for folder, codes in (("train_set", range(10)), ("val_set", range(8))):
        (root / folder / "annotations").mkdir(parents=True)
        for code in codes:
            label = CLASSES8.index(AFFECTNET_CODES[code]) if code < 8 else 0
            save(root / folder / "images" / f"{code + 7}.jpg", value_of(label))
            np.save(root / folder / "annotations" / f"{code + 7}_exp.npy", np.array(str(code)))
    return root


CK48_FOLDERS = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


def make_ckplus48(root: Path) -> Path:
    for folder in CK48_FOLDERS:
        for subject in ("S010", "S011"):
            save(root / "CK+48" / folder / f"{subject}_004_0000001{len(folder)}.png",
                 value_of(CLASSES8.index({"happy": "happiness"}.get(folder, folder))))
    return root


FER_CODES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
USAGES = ("Training", "PublicTest", "PrivateTest")


def fer_row(code: int, usage: str, value: int) -> str:
    return f"{code},{' '.join([str(value)] * 48 * 48)},{usage}"


def make_fer2013(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = ["emotion,pixels,Usage"] + [fer_row(code, usage, value_of(CLASSES8.index(FER_CODES[code])))
                                       for usage in USAGES for code in range(7)]
    (root / "fer2013.csv").write_text("\n".join(rows) + "\n")
    return root


FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF")


def make_ferplus(root: Path) -> Path:
    """Per usage: one clear majority per emotion column, then a tie, an unknown and a not-a-face majority."""
    root.mkdir(parents=True, exist_ok=True)
    fer, plus = ["emotion,pixels,Usage"], ["Usage,Image name," + ",".join(FERPLUS_COLUMNS)]
    for usage in USAGES:
        votes = [[8 if c == column else 0 for c in range(10)] for column in range(8)]
        votes += [[4, 4, 0, 0, 0, 0, 0, 0, 1, 1], [1] * 8 + [2, 0], [0] * 9 + [10]]
        for i, counts in enumerate(votes):
            label = CLASSES8.index(FERPLUS_COLUMNS[i]) if i < 8 else 0
            fer.append(fer_row(0, usage, value_of(label)))
            plus.append(f"{usage},fer{len(plus):07d}.png," + ",".join(map(str, counts)))
    (root / "fer2013.csv").write_text("\n".join(fer) + "\n")
    (root / "fer2013new.csv").write_text("\n".join(plus) + "\n")
    return root


FOLDER_CLASSES = {"angry": 5, "Happy": 3, "sadness": 4, "surprised": 0, "contempt": 7}


def make_folders(root: Path) -> Path:
    for split, count in (("train", 2), ("test", 1)):
        for folder, label in FOLDER_CLASSES.items():
            for i in range(count):
                save(root / split / folder / f"{i}.png", value_of(label))
    return root


# --- readers ----------------------------------------------------------------------------

def test_rafdb_labels_splits_and_original_fallback(tmp_path: Path) -> None:
    root = make_rafdb(tmp_path / "basic")
    assert detect_layout(root) == "rafdb"
    data = read_dataset(root)
    assert data.val is None and data.groups is None
    assert data.train.x.shape == (14, 48, 48) and data.train.x.dtype == np.uint8 and data.train.y.dtype == np.int64
    assert np.bincount(data.train.y).tolist() == [2] * 7 and np.bincount(data.test.y).tolist() == [1] * 7
    for part in (data.train, data.test):
        assert (labels_from_pixels(part.x) == part.y).all()
    (key, digest), = data.fingerprint.items()
    assert key == "rafdb:basic" and len(digest) == 64
    rgb = read_dataset(root, size=24, grey=False)
    assert rgb.train.x.shape == (14, 24, 24, 3) and rgb.fingerprint == data.fingerprint


def test_fingerprint_follows_file_bytes(tmp_path: Path) -> None:
    root = make_rafdb(tmp_path / "basic")
    before = read_dataset(root).fingerprint
    save(root / "Image" / "aligned" / "train_00001_aligned.jpg", value_of(0))
    assert read_dataset(root).fingerprint != before


@pytest.mark.parametrize("classes", [8, 7])
def test_affectnet_csv_codes_crop_and_classes(tmp_path: Path, classes: int) -> None:
    root = make_affectnet(tmp_path / "AffectNet")
    assert detect_layout(root) == "affectnet"
    data = read_dataset(root, classes=classes)
    expected = [CLASSES8.index(name) for name in AFFECTNET_CODES[:classes]]  # codes 8-10 dropped
    assert data.train.y.tolist() == expected and data.test.y.tolist() == expected and data.val is None
    for part in (data.train, data.test):  # the crop keeps only the face box's flat value
        assert (labels_from_pixels(part.x) == part.y).all() and part.x.min() > 0


def test_affectnet_default_is_eight_classes_and_paper_subsample(tmp_path: Path) -> None:
    data = read_dataset(make_affectnet_npy(tmp_path / "an"))
    assert detect_layout(tmp_path / "an") == "affectnet_npy"
    assert sorted(data.train.y.tolist()) == list(range(8)) and len(data.test) == 8
    assert (labels_from_pixels(data.train.x) == data.train.y).all()
    part = Part(x=np.arange(9)[:, None], y=np.array([0, 0, 0, 0, 1, 1, 1, 2, 2]))
    sub = subsample_per_class(part, per_class=2, seed=3)
    assert np.bincount(sub.y).tolist() == [2, 2, 2]
    assert (sub.x == subsample_per_class(part, per_class=2, seed=3).x).all()
    with pytest.raises(UserError, match="class 'disgust' has 2 images, fewer than 3"):
        subsample_per_class(part, per_class=3)


def test_sfew_val_is_test_and_test_folder_reported(tmp_path: Path) -> None:
    root = make_sfew(tmp_path / "SFEW")
    assert detect_layout(root) == "sfew"
    data = read_dataset(root)
    assert data.val is None and len(data.train) == 14 and len(data.test) == 7
    assert (labels_from_pixels(data.train.x) == data.train.y).all()
    report = inspect_dataset(root)
    assert report.problems == [] and any("2 unlabeled images, not loaded" in n for n in report.notes)


@pytest.mark.parametrize("classes", [None, 8])
def test_ckplus_first_and_last_frame(tmp_path: Path, classes: int | None) -> None:
    root = make_ckplus(tmp_path / "CK+")
    assert detect_layout(root) == "ckplus"
    data = read_dataset(root, classes=classes)
    assert len(data.train) == 0 and data.train.x.shape == (0, 48, 48) and data.val is None
    neutral = data.test.y == CLASSES8.index("neutral")
    assert neutral.sum() == 7  # every labeled sequence's first frame, contempt's included
    assert np.median(data.test.x[neutral]) == 200  # the onset frame, not frame 2 (210)
    peaks = data.test.y[~neutral]
    assert (labels_from_pixels(data.test.x[~neutral]) == peaks).all()
    assert (CLASSES8.index("contempt") in peaks) == (classes == 8)  # default: the paper's 7 classes
    assert len(data.test) == (14 if classes == 8 else 13)
    assert data.groups is not None and len(data.groups) == len(data.test) and set(data.groups) == {"S005", "S010"}


def test_ckplus48_subjects_and_folder_names(tmp_path: Path) -> None:
    root = make_ckplus48(tmp_path)
    assert detect_layout(root) == "ckplus48"
    data = read_dataset(root)
    assert len(data.test) == 14 and (labels_from_pixels(data.test.x) == data.test.y).all()
    assert CLASSES8.index("neutral") not in data.test.y and data.groups.tolist().count("S010") == 7
    assert len(read_dataset(root, classes=7).test) == 12


def test_fer2013_usage_and_codes(tmp_path: Path) -> None:
    root = make_fer2013(tmp_path)
    assert detect_layout(root) == "fer2013"
    data = read_dataset(root)
    for part in (data.train, data.val, data.test):
        assert len(part) == 7 and (labels_from_pixels(part.x) == part.y).all()
        assert part.y.tolist() == [CLASSES8.index(name) for name in FER_CODES]


def test_ferplus_majority(tmp_path: Path) -> None:
    root = make_ferplus(tmp_path)
    assert detect_layout(root) == "fer2013"  # FER+ is chosen by name only
    data = read_dataset(root, layout="ferplus")
    for part in (data.train, data.val, data.test):  # tie, unknown and NF majorities are dropped
        assert part.y.tolist() == [CLASSES8.index(name) for name in FERPLUS_COLUMNS[:8]]
        assert (labels_from_pixels(part.x) == part.y).all()
    assert len(read_dataset(root, layout="ferplus", classes=7).test) == 7


def test_class_folders_aliases_duplicates_and_align(tmp_path: Path) -> None:
    root = make_folders(tmp_path)
    assert detect_layout(root) == "folders"
    data = read_dataset(root)
    assert data.val is None and sorted(set(data.train.y.tolist())) == sorted(FOLDER_CLASSES.values())
    assert (labels_from_pixels(data.train.x) == data.train.y).all()
    flipped = read_dataset(root, size=20, align=lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    plain = read_dataset(root, size=20)
    assert (flipped.train.x == plain.train.x[:, :, ::-1]).all()
    (root / "test" / "angry" / "copy.png").write_bytes((root / "train" / "angry" / "0.png").read_bytes())
    groups = inspect_dataset(root).duplicates
    assert groups == [["test/angry/copy.png [test anger]", "train/angry/0.png [train anger]"]]


# --- errors -----------------------------------------------------------------------------

def test_missing_or_wrong_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_dataset(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        read_dataset(tmp_path / "file.txt")
    with pytest.raises(UserError, match=r"EmoLabel/list_patition_label.txt not found: the 'rafdb' layout needs it"):
        read_dataset(tmp_path, layout="rafdb")


def test_unknown_layout(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no known dataset layout .*list_patition_label.txt.*fer2013.csv"):
        detect_layout(tmp_path)
    with pytest.raises(UserError, match="unknown layout 'bogus': choose one of rafdb, affectnet"):
        read_dataset(tmp_path, layout="bogus")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "bomb"])
def test_corrupt_image_names_the_file(tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_rafdb(tmp_path)
    bad = root / "Image" / "aligned" / "train_00005_aligned.jpg"
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:200])
    elif damage == "garbage":
        bad.write_bytes(b"not a jpeg at all")
    else:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 20x20 > 2x100 pixels: a "bomb"
    with pytest.raises(UserError, match=r"Image/aligned/train_0000\d_aligned.jpg: corrupt or truncated image"):
        read_dataset(root)


@pytest.mark.parametrize(("line", "message"), [("train_00001.jpg 9", "label '9' is not a code 1-7"),
                                               ("train_00001.jpg five", "label 'five' is not a code 1-7"),
                                               ("val_00001.jpg 1", "expected 'train_NNNNN.jpg")])
def test_bad_label_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    root = make_rafdb(tmp_path)
    labels = root / "EmoLabel" / "list_patition_label.txt"
    rows = labels.read_text().splitlines()
    labels.write_text("\n".join([*rows[:4], line, *rows[5:]]) + "\n")
    with pytest.raises(UserError, match=f"list_patition_label.txt line 5: {message}"):
        read_dataset(root)


def test_bad_labels_in_other_layouts(tmp_path: Path) -> None:
    ck = make_ckplus(tmp_path / "ck")
    next((ck / "Emotion").glob("*/*/*_emotion.txt")).write_text("9.0\n")
    with pytest.raises(UserError, match=r"_emotion.txt line 1: label '9.0' is not a code 0-7"):
        read_dataset(ck)
    an = make_affectnet(tmp_path / "an")
    validation = an / "Manually_Annotated_file_lists" / "validation.csv"
    validation.write_text(validation.read_text().replace(",12,10,20,20,", ",12,10,0,20,", 1))
    with pytest.raises(UserError, match=r"validation.csv line 1: face box .* fix or remove the line"):
        read_dataset(an)
    fer = make_fer2013(tmp_path / "fer")
    (fer / "fer2013.csv").write_text((fer / "fer2013.csv").read_text().replace(",Training\n", " 7,Training\n", 1))
    with pytest.raises(UserError, match=r"fer2013.csv line \d+: pixels are not 2304 grey values"):
        read_dataset(fer)
    plus = make_ferplus(tmp_path / "plus")
    (plus / "fer2013new.csv").write_text("\n".join((plus / "fer2013new.csv").read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(UserError, match="fer2013new.csv has 32 rows but fer2013.csv has 33"):
        read_dataset(plus, layout="ferplus")


def test_class_missing_from_a_split(tmp_path: Path) -> None:
    root = make_rafdb(tmp_path)
    labels = root / "EmoLabel" / "list_patition_label.txt"
    labels.write_text("\n".join(r for r in labels.read_text().splitlines() if r != "test_00016.jpg 2") + "\n")
    with pytest.raises(UserError, match="class 'fear' has no test images"):
        read_dataset(root)
    folders = make_folders(tmp_path / "folders")
    for image in (folders / "test" / "contempt").iterdir():
        image.unlink()
    with pytest.raises(UserError, match="class 'contempt' has no test images"):
        read_dataset(folders)


def test_label_file_names_a_missing_image(tmp_path: Path) -> None:
    root = make_rafdb(tmp_path)
    (root / "Image" / "aligned" / "test_00019_aligned.jpg").unlink()
    with pytest.raises(UserError, match=r"list_patition_label.txt line 19 refers to "
                                        r"Image/aligned/test_00019_aligned.jpg, which is missing"):
        read_dataset(root)
