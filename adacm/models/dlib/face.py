"""dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1) in PyTorch.

The architecture is ``anet_type`` of dlib's examples/dnn_face_recognition_ex.cpp:

- stem: con<32,7,7,2,2> → affine → relu → max_pool<3,3,2,2>;
- 14 residual blocks, each conv3x3(stride s) → affine → relu → conv3x3 → affine, added to the
  input and followed by relu: 3 × 32 (alevel4); a downsampling 64 then 3 × 64 (alevel3);
  a downsampling 128 then 2 × 128 (alevel2); a downsampling 256 then 2 × 256 (alevel1);
  one downsampling 256 (alevel0);
- avg_pool_everything → 256-d feature → fc_no_bias<128> → the 128-d face descriptor.

dlib details that differ from torchvision's ResNet and are reproduced here:

- a convolution or pooling with stride 2 has no padding (dlib's default padding is
  ``kernel/2`` only for stride 1), so feature maps shrink by one more pixel;
- a downsampling block's shortcut is a 2×2/2 average pool of the input with no projection,
  and ``add_prev_`` adds tensors of different shapes by zero-padding the smaller one at the
  end of each dimension: the shortcut gains zero channels, and the block branch (one pixel
  smaller after an unpadded stride-2 conv at even sizes) gains a zero bottom row / right column;
- batch-norm was folded into a per-channel affine (``affine_``) when the model was saved.

The input convention is this project's: RGB in [0, 1], shape (B, 3, H, W); dlib's own
normalisation ``(pixel − mean) / 256`` on 0..255 pixels is applied inside ``forward``.
``loss_metric`` compares raw fc outputs (no L2 normalisation) with a 0.6 distance threshold,
so ``embed`` returns the fc output unnormalised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from adacm.models.backbone import Backbone
from adacm.models.dlib.dat import LayerRecord

# input_rgb_image_sized's per-channel means stored in the .dat (red, green, blue), on 0..255.
DLIB_RGB_MEAN = (122.782, 117.001, 104.298)
NUM_PARAMS = 5_614_592

# (filters, downsample) for the 14 blocks in execution order: alevel4 … alevel0.
_BLOCKS: tuple[tuple[int, bool], ...] = (
    (32, False), (32, False), (32, False),
    (64, True), (64, False), (64, False), (64, False),
    (128, True), (128, False), (128, False),
    (256, True), (256, False), (256, False),
    (256, True),
)


def padded_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev_: sum two (B, C, H, W) tensors, zero-padding each to the larger C, H and W.

    Padding goes at the end of each dimension (extra channels, bottom rows, right columns),
    as dlib's tt::add indexes both sources from the start.
    """
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:]))

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class Affine(nn.Module):
    """dlib's affine_ layer: a per-channel scale and shift (batch-norm folded at save time).

    The parameters are named ``weight``/``bias`` like BatchNorm2d's so that state dicts keep the
    same keys after :meth:`DlibFaceResNet.to_batchnorm`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def to_batchnorm(self) -> nn.BatchNorm2d:
        """A BatchNorm2d that computes the same function in eval mode and can be fine-tuned.

        running_var is 1 − eps (not 1) so that eval-mode outputs equal the affine's exactly.
        """
        bn = nn.BatchNorm2d(self.weight.numel()).to(device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            bn.weight.copy_(self.weight)
            bn.bias.copy_(self.bias)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        return bn


def _conv(cin: int, cout: int, kernel: int, stride: int) -> nn.Conv2d:
    """A conv with dlib's default padding: kernel//2 at stride 1, none otherwise."""
    return nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2 if stride == 1 else 0)


class ResBlock(nn.Module):
    """dlib's ``ares``/``ares_down``: relu(block(x) ⊕ shortcut(x)) with ⊕ = zero-padded add."""

    def __init__(self, cin: int, cout: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = _conv(cin, cout, 3, 2 if downsample else 1)
        self.norm1 = Affine(cout)
        self.conv2 = _conv(cout, cout, 3, 1)
        self.norm2 = Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(padded_add(out, shortcut))


class DlibFaceResNet(nn.Module):
    """dlib's face-recognition ResNet; ``forward`` gives the 256-d pooled feature, ``embed`` the 128-d descriptor."""

    feature_dim = 256
    embedding_dim = 128
    # The smallest side for which every unpadded stride-2 layer still fits its kernel: 103 px
    # gives 49 → 24 → 12 → 6 → 3 → 1 before pooling; at 102 px the last stage gets 2×2 < 3×3.
    min_input_size = 103

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv(3, 32, 7, 2)
        self.norm1 = Affine(32)
        blocks, cin = [], 32
        for cout, down in _BLOCKS:
            blocks.append(ResBlock(cin, cout, down))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, self.embedding_dim, bias=False)
        self.register_buffer("mean", torch.tensor(DLIB_RGB_MEAN).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.min_input_size:
            raise ValueError(f"dlib face ResNet needs inputs of at least {self.min_input_size} px, got {tuple(x.shape[-2:])}")
        x = (x * 255.0 - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self.norm1(self.conv1(x))), 3, 2)
        return self.blocks(x).mean(dim=(2, 3))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """dlib's 128-d face descriptor (not normalised; same-person pairs lie within ~0.6)."""
        return self.fc(self.forward(x))

    def load_pretrained_state(self, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        """Load a state dict made by ``adacm.models.dlib.convert.dlib_face_state_dict`` (the registry's backbone interface).

        Returns (missing, unexpected) key lists so the caller can report a mismatch clearly.
        """
        result = self.load_state_dict(state, strict=False)
        return list(result.missing_keys), list(result.unexpected_keys)

    def to_batchnorm(self) -> DlibFaceResNet:
        """Replace every folded affine with an equivalent BatchNorm2d, in place, for fine-tuning."""
        for module in list(self.modules()):
            for name, child in module.named_children():
                if isinstance(child, Affine):
                    setattr(module, name, child.to_batchnorm())
        return self

    def dlib_layout(self) -> Iterator[tuple[str, dict[str, int], nn.Module | None]]:
        """The (kind, hyper-parameters, module) sequence dlib stores for this net, input first.

        Used to check a parsed .dat against the architecture before any weight is copied.
        """
        def con(m: nn.Conv2d) -> tuple[str, dict[str, int], nn.Module]:
            return "con", {"num_filters": m.out_channels, "nr": m.kernel_size[0], "nc": m.kernel_size[1],
                           "stride_y": m.stride[0], "stride_x": m.stride[1],
                           "padding_y": m.padding[0], "padding_x": m.padding[1], "use_bias": True}, m

        def pool(kind: str, size: int, stride: int) -> tuple[str, dict[str, int], None]:
            return kind, {"nr": size, "nc": size, "stride_y": stride, "stride_x": stride, "padding_y": 0, "padding_x": 0}, None

        yield "input_rgb_image_sized", {"nr": 150, "nc": 150}, None
        yield con(self.conv1)
        yield "affine", {"mode": 0}, self.norm1
        yield "relu", {}, None
        yield pool("max_pool", 3, 2)
        for block in self.blocks:
            yield "tag_or_skip", {}, None  # tag1
            yield con(block.conv1)
            yield "affine", {"mode": 0}, block.norm1
            yield "relu", {}, None
            yield con(block.conv2)
            yield "affine", {"mode": 0}, block.norm2
            if block.downsample:
                yield "tag_or_skip", {}, None  # tag2
                yield "tag_or_skip", {}, None  # skip1
                yield pool("avg_pool", 2, 2)
            yield "add_prev", {}, None
            yield "relu", {}, None
        yield pool("avg_pool", 0, 1)  # avg_pool_everything: a 0 window means the whole map
        yield "fc", {"num_outputs": self.fc.out_features, "num_inputs": self.fc.in_features, "bias_mode": 1}, self.fc
        yield "loss_metric", {}, None


def load_dlib_weights(model: DlibFaceResNet, records: Sequence[LayerRecord]) -> None:
    """Copy the weights of dlib_face_recognition_resnet_model_v1 (parsed records) into ``model``.

    Every record is checked against ``model.dlib_layout()`` (kind and hyper-parameters) first,
    so a file for a different network fails with a ValueError naming the first mismatch
    rather than loading shuffled weights. The model must still hold its Affine layers.
    """
    layout = list(model.dlib_layout())
    if len(records) != len(layout):
        raise ValueError(f"the dlib file has {len(records)} layer records, the face ResNet expects {len(layout)}")
    updates: list[tuple[torch.Tensor, torch.Tensor]] = []
    for i, (record, (kind, expected, module)) in enumerate(zip(records, layout)):
        found = {k: record.hparams.get(k) for k in expected}
        if record.kind != kind or found != expected:
            raise ValueError(f"dlib record #{i} at byte {record.offset} is {record.kind} {found}, "
                             f"the face ResNet expects {kind} {expected}")
        if kind == "input_rgb_image_sized":
            stored = (record.hparams["avg_red"], record.hparams["avg_green"], record.hparams["avg_blue"])
            if max(abs(a - b) for a, b in zip(stored, DLIB_RGB_MEAN)) > 1e-3:
                raise ValueError(f"the dlib file's input means {stored} differ from {DLIB_RGB_MEAN}")
        elif kind == "con":
            updates += [(module.weight, record.params["weight"]), (module.bias, record.params["bias"])]
        elif kind == "affine":
            if not isinstance(module, Affine):
                raise ValueError("load dlib weights before calling to_batchnorm()")
            updates += [(module.weight, record.params["gamma"]), (module.bias, record.params["beta"])]
        elif kind == "fc":
            updates.append((module.weight, record.params["weight"].T))  # dlib computes x @ W
    with torch.no_grad():
        for target, source in updates:
            value = torch.from_numpy(source.copy())
            if value.shape != target.shape:
                raise ValueError(f"dlib weights of shape {tuple(value.shape)} do not fit a parameter of shape {tuple(target.shape)}")
            target.copy_(value)


class DlibFaceBackbone(Backbone):
    """dlib's face ResNet made fine-tunable, as the suite's ``dlib_face`` backbone.

    Two things stop the released network from fine-tuning: batch-norm is folded into fixed
    affines, and its pooled features are nearly collinear across faces, so the head's
    L2-normalised feature hardly differs between faces. ``calibrate`` therefore (1) turns every affine back into a
    batch-norm whose running statistics are measured on training faces and whose scale/shift
    are set so that the eval-mode function is unchanged, and (2) standardises the pooled
    feature with a batch-norm (``feature_norm``) initialised from the same faces.
    """

    feature_dim = DlibFaceResNet.feature_dim
    min_input_size = DlibFaceResNet.min_input_size

    def __init__(self) -> None:
        super().__init__()
        self.net = DlibFaceResNet()
        self.feature_norm = nn.BatchNorm1d(self.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_norm(self.net(x))

    def load_pretrained_state(self, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        return self.net.load_pretrained_state(state)

    def torchvision_state(self) -> dict[str, torch.Tensor]:
        """The network's weights in the converted file's layout (before ``calibrate``, which turns
        its affines into batch-norms; the feature standardisation is not part of the shared weights)."""
        return self.net.state_dict()

    @torch.no_grad()
    def calibrate(self, images: torch.Tensor, batch_size: int = 128) -> None:
        """Restore batch-norm from statistics of ``images`` (float RGB in [0,1]) without changing the function."""
        affines = [(parent, name, child) for parent in self.net.modules()
                   for name, child in parent.named_children() if isinstance(child, Affine)]
        sums: dict[int, list[torch.Tensor]] = {id(a): [] for _, _, a in affines}

        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].float()
            sums[id(module)].append(torch.stack([x.mean(dim=(0, 2, 3)), (x * x).mean(dim=(0, 2, 3))]))

        handles = [a.register_forward_pre_hook(hook) for _, _, a in affines]
        was_training = self.training
        self.eval()
        pooled = torch.cat([self.net(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
        for h in handles:
            h.remove()
        for parent, name, affine in affines:
            first, second = torch.stack(sums[id(affine)]).mean(dim=0)
            var = (second - first ** 2).clamp_min(1e-6)
            bn = nn.BatchNorm2d(affine.weight.numel())
            bn.running_mean.copy_(first)
            bn.running_var.copy_(var)
            bn.weight.copy_(affine.weight * torch.sqrt(var + bn.eps))
            bn.bias.copy_(affine.bias + affine.weight * first)
            setattr(parent, name, bn)
        self.feature_norm.running_mean.copy_(pooled.mean(dim=0))
        self.feature_norm.running_var.copy_(pooled.var(dim=0).clamp_min(1e-6))
        self.train(was_training)
