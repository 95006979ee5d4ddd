"""Part 5's convolutional networks and a layer-by-layer summary."""
from __future__ import annotations

import torch
from torch import nn


class SimpleCNN(nn.Module):
    """conv 3->32 3x3 pad 1, ReLU, max-pool 2; conv 32->64 3x3 pad 1, ReLU, max-pool 2;
    flatten 64*8*8; FC 128, ReLU; FC 10. Input (N, 3, 32, 32) -> logits (N, 10).

    ``batchnorm`` adds ImprovedCNN's batch norm after each convolution and the hidden linear layer (which then
    lose their biases): report 000's explanation of SimpleCNN's result, tested one change at a time."""

    def __init__(self, n_classes: int = 10, batchnorm: bool = False):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_block(3, 32, batchnorm), nn.MaxPool2d(2),
            *_conv_block(32, 64, batchnorm), nn.MaxPool2d(2),
        )
        head: list[nn.Module] = [nn.Flatten(), nn.Linear(64 * 8 * 8, 128, bias=not batchnorm)]
        head += [nn.BatchNorm1d(128)] if batchnorm else []
        self.classifier = nn.Sequential(*head, nn.ReLU(inplace=True), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _conv_block(c_in: int, c_out: int, batchnorm: bool) -> list[nn.Module]:
    # With BatchNorm the conv needs no bias: the BatchNorm that follows has its own shift.
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batchnorm)
    return [conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)] if batchnorm else [conv, nn.ReLU(inplace=True)]


class ImprovedCNN(nn.Module):
    """Three blocks of [conv 3x3 pad 1 (no bias), BatchNorm, ReLU] x 2 then max-pool 2, with
    64, 128, 256 filters; flatten 256*4*4; Linear 4096->512 (no bias), BatchNorm1d, ReLU,
    Dropout 0.5, Linear 512->10. 3.25 M parameters. Input (N, 3, 32, 32) -> logits (N, 10).

    ``batchnorm``, ``dropout`` and ``blocks`` switch off one of its changes over SimpleCNN at a time
    (the ablation): without batch norm the convolutions and the first linear layer get biases;
    with two blocks the classifier sees 128*8*8 features."""

    def __init__(self, n_classes: int = 10, batchnorm: bool = True, dropout: float = 0.5, blocks: int = 3):
        super().__init__()
        widths = (64, 128, 256)[:blocks]
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in widths:
            layers += _conv_block(c_in, c_out, batchnorm) + _conv_block(c_out, c_out, batchnorm) + [nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = 32 // 2 ** blocks
        head: list[nn.Module] = [nn.Flatten(), nn.Linear(widths[-1] * side * side, 512, bias=not batchnorm)]
        head += [nn.BatchNorm1d(512)] if batchnorm else []
        head += [nn.ReLU(inplace=True)] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(512, n_classes)]
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# Each removes one of ImprovedCNN's changes (the ablation of Part 5): name -> constructor arguments.
ABLATIONS = {"none": {}, "no-batchnorm": {"batchnorm": False}, "no-dropout": {"dropout": 0.0},
             "no-third-block": {"blocks": 2}}
# Each adds one of them to SimpleCNN (the same question from the other side).
ADDITIONS = {"with-batchnorm": {"batchnorm": True}}
MODELS = {"simple": SimpleCNN, "improved": ImprovedCNN}
CHANGES = {"simple": {"none": {}, **ADDITIONS}, "improved": ABLATIONS}  # the changes each model takes
DISPLAY_NAMES = {"simple": "SimpleCNN", "improved": "ImprovedCNN"}


def build_model(name: str, ablation: str = "none") -> nn.Module:
    """A fresh model by its short name ('simple' or 'improved') with one change (``ablation``): ImprovedCNN
    without one of its changes (ABLATIONS), SimpleCNN with one of them (ADDITIONS)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    if ablation not in {*ABLATIONS, *ADDITIONS}:
        raise ValueError(f"unknown ablation {ablation!r}; choose from {sorted({*ABLATIONS, *ADDITIONS})}")
    if ablation not in CHANGES[name]:
        other = next(m for m in MODELS if ablation in CHANGES[m])
        raise ValueError(f"the change {ablation!r} is {DISPLAY_NAMES[other]}'s; it needs --model {other}")
    return MODELS[name](**CHANGES[name][ablation])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _forward_with_hook(model: nn.Module, input_shape: tuple[int, ...], hook) -> None:
    """One no-grad forward pass of zeros in eval mode with ``hook(module, inputs, output)`` on every
    convolution and linear layer; the model's mode and hooks are as before afterwards."""
    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for handle in hooks:
            handle.remove()


def forward_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 3, 32, 32)) -> int:
    """Floating-point operations of one forward pass of one image: 2 per multiply-add of the convolutions
    and linear layers (normalisation, activations and pooling add a few percent and are left out).
    A training step costs about three times this (the backward pass takes two)."""
    flops = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            flops[0] += 2 * per_output * output[0].numel()
        elif isinstance(module, nn.Linear):
            flops[0] += 2 * module.in_features * module.out_features

    _forward_with_hook(model, input_shape, count)
    return flops[0] // input_shape[0]


def dense_equivalent_parameters(model: nn.Module, input_shape: tuple[int, ...] = (1, 3, 32, 32)) -> list[dict]:
    """What weight sharing saves: one row per convolution and linear layer with its parameters and those of a
    fully connected layer mapping the same input values to the same output values (inputs x outputs weights
    plus a bias per output), as an MLP of the same layer sizes would need."""
    rows = []

    def count(module, inputs, output):
        n_in, n_out = inputs[0][0].numel(), output[0].numel()
        rows.append({"layer": type(module).__name__, "inputs": n_in, "outputs": n_out,
                     "parameters": sum(p.numel() for p in module.parameters()), "dense": n_in * n_out + n_out})

    _forward_with_hook(model, input_shape, count)
    return rows


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
