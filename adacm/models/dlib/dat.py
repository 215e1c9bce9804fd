"""Reader for dlib's binary ``.dat`` serialisation of a DNN, enough for the face-recognition ResNet.

dlib writes a network by recursion over its C++ type, so the file has two halves:

1. the wrappers' headers, from the loss layer inwards: ``add_loss_layer`` writes its version
   and the loss record, then every ``add_layer`` writes its version (2) and recurses into its
   sub-network before anything else, and ``add_tag_layer``/``add_skip_layer`` write only a
   version (1) and recurse;
2. when the recursion reaches the input layer, the layer records come back out in execution
   order (input first, the final ``fc_`` last), each followed by its wrapper's trailer (three
   flags and some tensors that are empty in a saved model).

Tag and skip wrappers store no tag id (it lives only in the C++ type), so the file cannot tell
them apart: both come back as one ``tag_or_skip`` record, and the architecture code that knows
the type checks them against its own layout.

Encodings (dlib/serialize.h, dlib/float_details.h, dlib/cuda/tensor.h):

- integer: a control byte whose low nibble is the byte count (1..8) and whose bit 0x80 marks
  a negative signed value, then that many little-endian magnitude bytes;
- float/double: a ``float_details`` pair, an int64 mantissa and an int16 exponent, value
  ``mantissa * 2**exponent`` (exponents 32000/32001/32002 mean +inf/-inf/nan);
- string: an unsigned length, then the raw bytes; bool: the character ``'0'`` or ``'1'``;
- tensor: version 2, then num_samples, k, nr, nc and that many little-endian float32;
- alias_tensor (a view into a layer's ``params``): version 1 and its four dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_FLOAT_SPECIAL = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


class DlibFormatError(ValueError):
    """A malformed or truncated dlib file; the message is one line naming the file, offset and record."""


@dataclass
class LayerRecord:
    """One record of a dlib network, in execution order.

    ``kind`` is the layer name without its version suffix (``con``, ``affine``, ``relu``,
    ``max_pool``, ``avg_pool``, ``add_prev``, ``fc``, ``tag_or_skip``, ``input_rgb_image_sized``,
    ``loss_metric``); ``version`` is the tag dlib stored (e.g. ``con_4``); ``offset`` is where the
    record starts in the file. ``params`` hold float32 arrays in dlib's own layout: a ``con``'s
    ``weight`` is (filters, channels, rows, cols) like PyTorch's, an ``fc``'s ``weight`` is
    (inputs, outputs) because dlib computes ``x @ weight``.
    """

    kind: str
    version: str
    offset: int
    hparams: dict[str, int | float | bool] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_params(self) -> int:
        return sum(int(a.size) for a in self.params.values())


class _Reader:
    """A cursor over the file's bytes that turns every problem into a DlibFormatError."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self.pos = 0
        self.record = "file header"

    def fail(self, problem: str, at: int | None = None) -> DlibFormatError:
        at = self.pos if at is None else at
        return DlibFormatError(f"malformed dlib file {self.name}: {problem} at byte offset {at} (in {self.record})")

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise self.fail(f"file ends while reading {what} ({n} bytes needed, {len(self.data) - self.pos} left)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def integer(self, what: str, signed: bool = True) -> int:
        start = self.pos
        control = self.take(1, what)[0]
        size = control & 0x0F
        if control & 0x70 or not 1 <= size <= 8 or (control & 0x80 and not signed):
            raise self.fail(f"bad integer control byte 0x{control:02x} for {what}", start)
        value = int.from_bytes(self.take(size, what), "little")
        return -value if control & 0x80 else value

    def count(self, what: str) -> int:
        """A non-negative size or dimension."""
        return self.integer(what, signed=False)

    def real(self, what: str) -> float:
        start = self.pos
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise self.fail(f"{what} uses dlib's legacy text float format, which this reader does not accept", start)
        mantissa = self.integer(f"{what} (mantissa)")
        exponent = self.integer(f"{what} (exponent)")
        if exponent in _FLOAT_SPECIAL:
            return _FLOAT_SPECIAL[exponent]
        if not -32768 <= exponent < 32000:
            raise self.fail(f"bad float exponent {exponent} for {what}", start)
        return math.ldexp(float(mantissa), exponent)

    def boolean(self, what: str) -> bool:
        start = self.pos
        char = self.take(1, what)
        if char not in (b"0", b"1"):
            raise self.fail(f"bad bool byte {char!r} for {what}", start)
        return char == b"1"

    def string(self, what: str) -> str:
        length = self.count(f"{what} (length)")
        raw = self.take(length, what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not ASCII text", self.pos - length) from None

    def peek_string_prefix(self, prefix: bytes) -> bool:
        """Whether a string starting with ``prefix`` comes next (the cursor does not move)."""
        start = self.pos
        try:
            length = self.count("string length")
            return length >= len(prefix) and self.data[self.pos:self.pos + len(prefix)] == prefix
        except DlibFormatError:
            return False
        finally:
            self.pos = start

    def dims(self, what: str, version: int) -> tuple[int, int, int, int]:
        found = self.integer(f"{what} version")
        if found != version:
            raise self.fail(f"{what} has version {found}, expected {version}")
        return tuple(self.count(f"{what} {d}") for d in ("num_samples", "k", "nr", "nc"))  # type: ignore[return-value]

    def tensor(self, what: str) -> np.ndarray:
        """A resizable_tensor as a (num_samples, k, nr, nc) float32 array."""
        shape = self.dims(what, 2)
        size = math.prod(shape)
        raw = self.take(4 * size, f"{what} data ({size} floats)")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self, what: str) -> tuple[int, int, int, int]:
        """An alias_tensor: only the shape of a view into the layer's params."""
        return self.dims(what, 1)


def _split_params(r: _Reader, params: np.ndarray, views: dict[str, tuple[int, ...]], optional: str | None = None
                  ) -> dict[str, np.ndarray]:
    """Cut a layer's flat ``params`` tensor into its alias views, in order.

    ``optional`` names a trailing view that may be absent (a con_ without bias keeps the
    alias's shape but not its storage).
    """
    flat = params.reshape(-1)
    sizes = {name: math.prod(shape) for name, shape in views.items()}
    if optional is not None and flat.size == sum(sizes.values()) - sizes[optional]:
        views = {k: v for k, v in views.items() if k != optional}
    if flat.size != sum(math.prod(s) for s in views.values()):
        raise r.fail(f"params hold {flat.size} floats but the views {views} need {sum(sizes.values())}")
    out, start = {}, 0
    for name, shape in views.items():
        n = math.prod(shape)
        out[name] = flat[start:start + n].reshape(shape)
        start += n
    return out


def _lr_multipliers(r: _Reader) -> None:
    """Four training-only doubles every con_/fc_ stores; read to keep the cursor in step."""
    for name in ("learning_rate_multiplier", "weight_decay_multiplier",
                 "bias_learning_rate_multiplier", "bias_weight_decay_multiplier"):
        r.real(name)


def _con(r: _Reader, version: str) -> tuple[dict, dict]:
    params = r.tensor("params")
    hp: dict[str, int | float | bool] = {"num_filters": r.count("num_filters"), "nr": r.count("nr"), "nc": r.count("nc"),
                                        "stride_y": r.integer("stride_y"), "stride_x": r.integer("stride_x"),
                                        "padding_y": r.integer("padding_y"), "padding_x": r.integer("padding_x")}
    filters, biases = r.alias("filters"), r.alias("biases")
    _lr_multipliers(r)
    if version in ("con_5", "con_6"):
        hp["use_bias"] = r.boolean("use_bias")
    if version == "con_6":
        hp["use_relu"] = r.boolean("use_relu")
    arrays = _split_params(r, params, {"weight": filters, "bias": (math.prod(biases),)}, optional="bias")
    hp.setdefault("use_bias", "bias" in arrays)
    if filters[0] != hp["num_filters"] or filters[2:] != (hp["nr"], hp["nc"]):
        raise r.fail(f"filter shape {filters} disagrees with num_filters={hp['num_filters']}, kernel {hp['nr']}x{hp['nc']}")
    return hp, arrays


def _affine(r: _Reader, version: str) -> tuple[dict, dict]:
    params = r.tensor("params")
    gamma, beta = r.alias("gamma"), r.alias("beta")
    hp: dict[str, int | float | bool] = {"mode": r.integer("mode")}
    if hp["mode"] not in (0, 1):
        raise r.fail(f"affine mode {hp['mode']} is neither CONV_MODE (0) nor FC_MODE (1)")
    if version == "affine_2":
        hp["disabled"] = r.boolean("disabled")
    arrays = _split_params(r, params, {"gamma": (math.prod(gamma),), "beta": (math.prod(beta),)})
    return hp, arrays


def _relu(r: _Reader, version: str) -> tuple[dict, dict]:
    return ({"disabled": r.boolean("disabled")} if version == "relu_2" else {}), {}


def _pool(r: _Reader, version: str) -> tuple[dict, dict]:
    return {"nr": r.count("nr"), "nc": r.count("nc"), "stride_y": r.integer("stride_y"),
            "stride_x": r.integer("stride_x"), "padding_y": r.integer("padding_y"),
            "padding_x": r.integer("padding_x")}, {}


def _add_prev(r: _Reader, version: str) -> tuple[dict, dict]:
    return {}, {}


def _fc(r: _Reader, version: str) -> tuple[dict, dict]:
    hp: dict[str, int | float | bool] = {"num_outputs": r.count("num_outputs"), "num_inputs": r.count("num_inputs")}
    params = r.tensor("params")
    weights, biases = r.alias("weights"), r.alias("biases")
    hp["bias_mode"] = r.integer("bias_mode")
    if hp["bias_mode"] not in (0, 1):
        raise r.fail(f"fc bias_mode {hp['bias_mode']} is neither FC_HAS_BIAS (0) nor FC_NO_BIAS (1)")
    _lr_multipliers(r)
    if version == "fc_3":
        hp["use_bias"] = r.boolean("use_bias")
    views = {"weight": (weights[0], weights[1])}
    if hp["bias_mode"] == 0:
        views["bias"] = (math.prod(biases),)
    arrays = _split_params(r, params, views, optional="bias" if "bias" in views else None)
    if weights[:2] != (hp["num_inputs"], hp["num_outputs"]):
        raise r.fail(f"weights view {weights} disagrees with {hp['num_inputs']} inputs, {hp['num_outputs']} outputs")
    return hp, arrays


_LAYERS: dict[str, Callable[[_Reader, str], tuple[dict, dict]]] = {
    "con_4": _con, "con_5": _con, "con_6": _con,
    "affine_": _affine, "affine_2": _affine,
    "relu_": _relu, "relu_2": _relu,
    "max_pool_2": _pool, "avg_pool_2": _pool,
    "add_prev_": _add_prev,
    "fc_2": _fc, "fc_3": _fc,
}


def _kind(version: str) -> str:
    return version.rstrip("0123456789").rstrip("_")


def _layer(r: _Reader, index: int) -> LayerRecord:
    offset = r.pos
    r.record = f"layer record #{index}"
    version = r.string("layer version tag")
    if version not in _LAYERS:
        raise r.fail(f"unsupported layer {version!r} (this reader knows {', '.join(sorted(_LAYERS))})", offset)
    r.record = f"layer record #{index} ({version})"
    hp, arrays = _LAYERS[version](r, version)
    return LayerRecord(_kind(version), version, offset, hp, arrays)


def _input(r: _Reader) -> LayerRecord:
    offset = r.pos
    r.record = "input layer record"
    version = r.string("input layer version tag")
    if version != "input_rgb_image_sized":
        raise r.fail(f"unsupported input layer {version!r} (this reader knows input_rgb_image_sized)", offset)
    hp = {"avg_red": r.real("avg_red"), "avg_green": r.real("avg_green"), "avg_blue": r.real("avg_blue"),
          "nr": r.count("nr"), "nc": r.count("nc")}
    return LayerRecord(version, version, offset, hp)


def _trailer(r: _Reader, version: int, on_input: bool) -> None:
    """The add_layer fields written after a layer's record; all training state, so discarded."""
    for flag in ("this_layer_setup_called", "gradient_input_is_stale", "get_output_and_gradient_input_disabled"):
        r.boolean(flag)
    r.tensor("x_grad")
    r.tensor("cached_output")
    if on_input:
        r.tensor("grad_final")
        if version == 3:
            r.count("sample_expansion_factor")
    elif version == 2:
        r.tensor("params_grad")


def _subnet(r: _Reader, records: list[LayerRecord]) -> None:
    """Read one wrapper and everything inside it, appending records in execution order."""
    start = r.pos
    r.record = f"wrapper header #{len(records)}"
    version = r.integer("wrapper version")
    if r.peek_string_prefix(b"input"):
        # add_layer<LAYER, INPUT_LAYER>: the input layer's record is stored in place of a sub-network.
        if version not in (2, 3):
            raise r.fail(f"layer-on-input wrapper version {version} is not supported (expected 2 or 3)", start)
        records.append(_input(r))
        records.append(_layer(r, len(records)))
        _trailer(r, version, on_input=True)
    elif version == 1:
        _subnet(r, records)
        records.append(LayerRecord("tag_or_skip", "1", start))
    elif version == 2:
        _subnet(r, records)
        records.append(_layer(r, len(records)))
        _trailer(r, version, on_input=False)
    else:
        raise r.fail(f"unknown wrapper version {version} (add_layer is 2, tag/skip is 1)", start)


def _loss(r: _Reader) -> LayerRecord:
    offset = r.pos
    r.record = "loss record"
    version = r.string("loss version tag")
    if version == "loss_metric_":  # the first format hard-coded these values
        return LayerRecord("loss_metric", version, offset, {"margin": 0.1, "distance_threshold": 0.75})
    if version == "loss_metric_2":
        return LayerRecord("loss_metric", version, offset,
                           {"margin": r.real("margin"), "distance_threshold": r.real("distance_threshold")})
    raise r.fail(f"unsupported loss {version!r} (this reader knows loss_metric_, loss_metric_2)", offset)


def parse_dlib_net(data: bytes, name: str = "<bytes>") -> list[LayerRecord]:
    """Parse a serialised ``add_loss_layer`` network; records come input first, the loss last."""
    r = _Reader(data, name)
    version = r.integer("add_loss_layer version")
    if version != 1:
        raise r.fail(f"add_loss_layer version is {version}, expected 1: not a dlib DNN file", 0)
    loss = _loss(r)
    records: list[LayerRecord] = []
    _subnet(r, records)
    if r.pos != len(data):
        r.record = "end of network"
        raise r.fail(f"{len(data) - r.pos} unread bytes after the network")
    return records + [loss]


def read_dlib_net(path: Path | str) -> list[LayerRecord]:
    """Read a dlib DNN ``.dat`` file (e.g. dlib_face_recognition_resnet_model_v1.dat) into records.

    Raises DlibFormatError (a ValueError) on any malformed, truncated or over-long file, so a
    corrupt download fails with the file and byte offset named instead of yielding bad weights.
    """
    path = Path(path)
    return parse_dlib_net(path.read_bytes(), str(path))
