"""Part 5's convolutional networks and a layer-by-layer summary."""
from __future__ import annotations

import torch
from torch import nn


class SimpleCNN(nn.Module):
    """conv 3->32 3x3 pad 1, ReLU, max-pool 2; conv 32->64 3x3 pad 1, ReLU, max-pool 2;
    flatten 64*8*8; FC 128, ReLU; FC 10. Input (N, 3, 32, 32) -> logits (N, 10)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(inplace=True),
                                        nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    # No conv bias: the BatchNorm that follows has its own shift.
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ImprovedCNN(nn.Module):
    """Three blocks of [conv 3x3 pad 1 (no bias), BatchNorm, ReLU] x 2 then max-pool 2, with
    64, 128, 256 filters; flatten 256*4*4; Linear 4096->512 (no bias), BatchNorm1d, ReLU,
    Dropout 0.5, Linear 512->10. 3.25 M parameters. Input (N, 3, 32, 32) -> logits (N, 10)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in ((3, 64), (64, 128), (128, 256)):
            layers += _conv_bn_relu(c_in, c_out) + _conv_bn_relu(c_out, c_out) + [nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(256 * 4 * 4, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(512, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MODELS = {"simple": SimpleCNN, "improved": ImprovedCNN}
DISPLAY_NAMES = {"simple": "SimpleCNN", "improved": "ImprovedCNN"}


def build_model(name: str) -> nn.Module:
    """A fresh model by its short name ('simple' or 'improved')."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    return MODELS[name]()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def layer_summary(model: nn.Module, input_shape=(2, 3, 32, 32)) -> list[dict]:
    """One row per leaf layer: name, type, output shape (without batch), parameters."""
    rows, hooks = [], []
    for name, module in model.named_modules():
        if len(list(module.children())) == 0:
            def hook(mod, _inputs, output, name=name):
                rows.append({"layer": name, "type": type(mod).__name__, "output_shape": list(output.shape[1:]),
                             "parameters": sum(p.numel() for p in mod.parameters())})
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        model(torch.zeros(input_shape, device=device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return rows


def summary_markdown(model: nn.Module, title: str) -> str:
    rows = layer_summary(model)
    lines = [f"# {title}", "", "| layer | type | output shape | parameters |", "|---|---|---|---:|"]
    lines += [f"| {r['layer']} | {r['type']} | {' x '.join(map(str, r['output_shape']))} | {r['parameters']:,} |"
              for r in rows]
    lines += ["", f"Total parameters: {count_parameters(model):,}", ""]
    return "\n".join(lines)
