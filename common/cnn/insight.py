"""What a trained CNN looks at, as arrays for common/render/figures.py (the CS231n visualisation exercises):

- ``first_filters``: the first convolution's kernels as small RGB images.
- ``saliency``: |d score(true class) / d input| per pixel (Simonyan et al., 2014), the maximum over
  the colour channels: the pixels whose change would move the class's score most.
- ``class_images``: an input made for each class by gradient ascent on its score, kept natural by an
  L2 penalty, random jitter (shifts) and a periodic blur (Yosinski et al., 2015).

Every function puts the model in eval mode (BatchNorm's running statistics, no dropout).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from common.cnn.training import CIFAR10_MEAN, CIFAR10_STD


def _normalizer(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1)
    return mean, std


def first_filters(model: nn.Module) -> np.ndarray:
    """The first convolution's weights (C_out, C_in, k, k) as (C_out, k, k, 3) float in [0, 1], each
    filter scaled on its own so that 0.5 is zero weight."""
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    w = conv.weight.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
    scale = np.abs(w).max(axis=(1, 2, 3), keepdims=True)
    return 0.5 + 0.5 * w / np.where(scale > 0, scale, 1)


def saliency(model: nn.Module, images: np.ndarray, labels: np.ndarray, device: torch.device) -> tuple[np.ndarray,
                                                                                                         np.ndarray]:
    """Saliency maps (B, H, W) of uint8 images (B, H, W, 3) for ``labels`` (B,), and the model's
    probability of each label (B,)."""
    model.eval()
    mean, std = _normalizer(device)
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).to(device).float() / 255
    x = ((x - mean) / std).requires_grad_(True)
    logits = model(x).float()
    target = torch.as_tensor(labels, device=device)
    logits.gather(1, target[:, None]).sum().backward()
    maps = x.grad.abs().amax(1).cpu().numpy()
    return maps, torch.softmax(logits.detach(), 1).gather(1, target[:, None])[:, 0].cpu().numpy()


def _blur(x: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """A small separable Gaussian blur of (B, C, H, W), per channel."""
    radius = 1
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-t * t / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = nn.functional.conv2d(nn.functional.pad(x, (radius, radius, 0, 0), mode="reflect"),
                             kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return nn.functional.conv2d(nn.functional.pad(x, (0, 0, radius, radius), mode="reflect"),
                                kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def class_images(model: nn.Module, device: torch.device, classes: int = 10, steps: int = 200, lr: float = 0.4,
                 l2: float = 3e-3, jitter: int = 2, blur_every: int = 10, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One input per class, made by gradient ascent on that class's score (all classes in one batch).

    Each step: shift the images by a random jitter, take the gradient of (score - l2 * ||x||^2) for
    each image's class, step by ``lr`` along it (normalised per image), shift back, clip to the range
    real images span, and every ``blur_every`` steps blur a little. Returns the images (classes, H, W, 3)
    in [0, 1], and each class's score at the start and at the end (classes,)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    mean, std = _normalizer(device)
    low, high = (0 - mean) / std, (1 - mean) / std
    x = (torch.randn(classes, 3, 32, 32, generator=generator) * 0.1).to(device)
    target = torch.arange(classes, device=device)

    def scores(images):
        return model(images).float().gather(1, target[:, None])[:, 0]

    with torch.no_grad():
        start = scores(x).cpu().numpy()
    for step in range(steps):
        dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
        shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3)).requires_grad_(True)
        objective = scores(shifted) - l2 * (shifted * shifted).sum((1, 2, 3))
        objective.sum().backward()
        grad = shifted.grad
        with torch.no_grad():
            step_dir = grad / (grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1) + 1e-12)
            x = torch.roll(shifted + lr * step_dir * np.sqrt(3 * 32 * 32) / 32, shifts=(-dy, -dx), dims=(2, 3))
            x = torch.maximum(torch.minimum(x, high), low)
            if blur_every and (step + 1) % blur_every == 0:
                x = _blur(x)
    for p in model.parameters():
        p.requires_grad_(True)
    with torch.no_grad():
        end = scores(x).cpu().numpy()
    pictures = (x * std + mean).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return pictures, start, end
