"""The colorization network: one U-Net that serves automatic and hint-guided colorization.

Grey in, chroma out.  A pretrained EfficientNet-Lite0 encodes the grey image; its pooled
bottleneck (the ImageNet embedding) is fused back into every position as in the
automatic design we grew from.  Hints (mask + Cb/Cr) enter twice: through a small
strided encoder added to the backbone features, and as dense normalized-convolution
channels (local mean hint colour and confidence at three widths, plus the global mean)
at every decoder stage; the feasibility study found hints were nearly ignored without
the second path.  Hint inputs are optional: zeros mean "automatic".

The head predicts a distribution over a grid of Cb/Cr bins (classification counters the
dull average colour that pure regression learns) and a regression estimate; the engine
turns the distribution into a colour by an annealed mean.
"""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from torch import nn

from colorme_desktop.engines.chroma_bins import CHROMA_RANGE, NUM_BINS, bin_centres

HINT_WIDTHS = (3, 9, 27)  # normalized-convolution box widths, in cells of each stage
HINT_CHANNELS = 3 * len(HINT_WIDTHS) + 3


def conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def hint_density(mask: torch.Tensor, chroma: torch.Tensor, stride: int) -> torch.Tensor:
    """Dense hint channels at ``stride``: mean hint colour and confidence at several widths.

    Normalized convolution: blur(mask * colour) / blur(mask) is the local mean hint colour;
    blur(mask) says how much evidence it rests on.  The global mean colour lets a single
    hint inform the whole image.
    """
    if stride > 1:
        mask_s = F.avg_pool2d(mask, stride)
        weighted_s = F.avg_pool2d(mask * chroma, stride)
    else:
        mask_s, weighted_s = mask, mask * chroma
    scaled = weighted_s / CHROMA_RANGE
    channels = []
    both = torch.cat([mask_s, scaled], dim=1)
    for width in HINT_WIDTHS:
        blurred = _box_blur(both, width)
        m, w = blurred[:, :1], blurred[:, 1:]
        channels += [w / (m + 1e-4), 1.0 - torch.exp(-m * width * width)]
    total = mask_s.sum(dim=(2, 3), keepdim=True)
    global_colour = scaled.sum(dim=(2, 3), keepdim=True) / (total + 1e-4)
    global_conf = 1.0 - torch.exp(-total)
    size = mask_s.shape[-2:]
    channels += [global_colour.expand(-1, -1, *size), global_conf.expand(-1, -1, *size)]
    return torch.cat(channels, dim=1)


def _box_blur(x: torch.Tensor, width: int) -> torch.Tensor:
    """Separable box mean (zero padding): two 1-D passes instead of one width x width."""
    pad = width // 2
    x = F.avg_pool2d(x, (1, width), stride=1, padding=(0, pad), count_include_pad=True)
    return F.avg_pool2d(x, (width, 1), stride=1, padding=(pad, 0), count_include_pad=True)


class DecoderStage(nn.Module):
    def __init__(self, cin: int, skip: int, cout: int, extra: int, dropout: float) -> None:
        super().__init__()
        self.fuse = conv_bn_relu(cin + skip + HINT_CHANNELS + extra, cout)
        self.refine = conv_bn_relu(cout, cout)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, skip: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.dropout(self.refine(self.fuse(torch.cat([x, skip, hints], dim=1))))


class ColorNet(nn.Module):
    """Grey (B,1,H,W) in 0..255, optional hint chroma (B,2,H,W) and mask (B,1,H,W).

    H and W must be multiples of 32.  Returns logits over Cb/Cr bins and a regression
    estimate, both at a quarter of the input resolution (chroma is smooth; the engine
    upsamples it guided by the full-resolution grey).
    """

    def __init__(self, dropout: float = 0.25) -> None:
        super().__init__()
        self.backbone = timm.create_model("tf_efficientnet_lite0", pretrained=False, features_only=True)
        chans = self.backbone.feature_info.channels()  # [16, 24, 40, 112, 320]
        # TF-style input scaling the Lite0 weights were trained with.
        self.register_buffer("input_mean", torch.tensor(127.0), persistent=False)
        self.register_buffer("input_scale", torch.tensor(128.0), persistent=False)
        self.register_buffer("centres", torch.from_numpy(bin_centres()), persistent=False)
        hint_chans = [16, 24, 40, 112, 320]
        self.hint_stem = nn.ModuleList()
        cin = 4
        for c in hint_chans:
            self.hint_stem.append(nn.Sequential(nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.ReLU(inplace=True)))
            cin = c
        # Zero-initialised so the pretrained features start unchanged.
        self.hint_inject = nn.ModuleList(nn.Conv2d(c, c, 1) for c in hint_chans[1:])
        for conv in self.hint_inject:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.bottleneck = conv_bn_relu(chans[4] + HINT_CHANNELS, 128, 1)
        self.global_fusion = nn.Sequential(nn.Linear(chans[4], 128), nn.ReLU(inplace=True), nn.Linear(128, 128))
        self.stage16 = DecoderStage(128, chans[3], 96, 0, dropout)
        self.stage8 = DecoderStage(96, chans[2], 64, 0, dropout)
        self.stage4 = DecoderStage(64, chans[1], 64, 4, 0.0)
        self.logits = nn.Conv2d(64, NUM_BINS, 1)
        self.regress = nn.Conv2d(64, 2, 1)

    def forward(self, grey: torch.Tensor, hint_chroma: torch.Tensor | None = None,
                hint_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = grey.shape
        if hint_mask is None:
            hint_mask = grey.new_zeros(b, 1, h, w)
            hint_chroma = grey.new_zeros(b, 2, h, w)
        x = (grey - self.input_mean) / self.input_scale
        feats = self.backbone(x.expand(-1, 3, -1, -1))
        hint_in_full = torch.cat([x, hint_mask, hint_chroma * hint_mask / CHROMA_RANGE], dim=1)
        hint_in = hint_in_full
        hint_feats = []
        for stem in self.hint_stem:
            hint_in = stem(hint_in)
            hint_feats.append(hint_in)
        # Stride 2 is only an intermediate step of the hint encoder; inject from stride 4.
        f4, f8, f16, f32 = (feat + inject(h) for feat, h, inject in
                            zip(feats[1:], hint_feats[1:], self.hint_inject))
        density = {s: hint_density(hint_mask, hint_chroma, s) for s in (4, 8, 16, 32)}
        bottom = self.bottleneck(torch.cat([f32, density[32]], dim=1))
        embedding = self.global_fusion(feats[4].mean(dim=(2, 3)))
        bottom = bottom + embedding[:, :, None, None]
        y = self.stage16(bottom, f16, density[16])
        y = self.stage8(y, f8, density[8])
        quarter_inputs = F.avg_pool2d(hint_in_full, 4)
        y = self.stage4(y, f4, torch.cat([density[4], quarter_inputs], dim=1))
        return self.logits(y), torch.tanh(self.regress(y)) * CHROMA_RANGE

    def chroma(self, logits: torch.Tensor, regression: torch.Tensor, temperature: float,
               blend: float) -> torch.Tensor:
        """Colour from the outputs: annealed mean of the bins, blended with the regression.

        A temperature below 1 sharpens the distribution toward its likeliest colours, which
        keeps colours vivid where the plain mean would average them toward brown.
        """
        probs = torch.softmax(logits.float() / temperature, dim=1)
        annealed = torch.einsum("bkhw,kc->bchw", probs, self.centres)
        return blend * annealed + (1.0 - blend) * regression.float()


def backbone_state_from_lite0(state: dict[str, torch.Tensor], model: ColorNet) -> dict[str, torch.Tensor]:
    """Rename the classic EfficientNet-PyTorch Lite0 checkpoint into timm's names.

    Both list the same tensors in the same order (stem, then each block's convs and
    norms); the classifier head, which features_only drops, is skipped.  Shapes are
    checked pair by pair so a wrong file fails loudly.
    """
    source = [(k, v) for k, v in state.items() if not k.startswith(("_conv_head", "_bn1", "_fc"))]
    target = list(model.backbone.state_dict().items())
    if len(source) != len(target):
        raise ValueError(f"backbone has {len(target)} tensors, checkpoint {len(source)}")
    renamed = {}
    for (src_name, tensor), (dst_name, dst) in zip(source, target):
        if tensor.shape != dst.shape:
            raise ValueError(f"{src_name} {tuple(tensor.shape)} does not fit {dst_name} {tuple(dst.shape)}")
        renamed[dst_name] = tensor
    return renamed
