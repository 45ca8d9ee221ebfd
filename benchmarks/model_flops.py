"""Model FLOPs of a wav2vec2-style CTC model, counted from its architecture, and GPUs' peak bf16 FLOP rates.

Model FLOPs utilisation (MFU) = model FLOPs of the audio trained per second / the hardware's peak. Model FLOPs are
what the architecture needs for the real (unpadded) audio, one clip at a time, so padding, recomputation
(activation checkpointing) and kernels that waste work all lower MFU instead of hiding in it. A multiply-add is 2
FLOPs; only matrix products and convolutions are counted (norms, activations, softmax and the loss are a few % of
the memory traffic and ~0 % of the FLOPs).

For a clip of S samples the convolutional feature encoder gives, per layer i (kernel k_i, stride s_i, channels
c_{i-1} -> c_i), L_i = floor((L_{i-1} - k_i) / s_i) + 1 output positions (L_0 = S) and T = L_7 frames
(XLS-R: 320x downsampling, ~50 frames per audio second). With hidden size d, feed-forward size f, N layers, P
positional-convolution taps in G groups and a vocabulary of V, one forward pass costs:

    conv       = sum_i 2 * L_i * k_i * c_{i-1} * c_i                    (feature encoder)
    projection = 2 * T * c_7 * d                                       (feature projection)
    pos_conv   = 2 * (T + 1) * d * (d / G) * P                         (convolutional positional embedding)
    dense      = N * 2 * T * (4 * d^2 + 2 * d * f)                      (q, k, v, out; two feed-forward matmuls)
    attention  = N * 4 * T^2 * d                                       (Q K^T and A V, all heads)
    head       = 2 * T * d * V                                         (CTC head)

Training = 3 x forward (backward = 2 x forward: gradients of inputs and of weights) for every trained part; the
feature encoder, frozen in every XTREME-S recipe (`--freeze_feature_encoder`, the default), runs forward only (1x;
3x when it is trained). The recomputed forward of activation checkpointing is NOT counted: it is overhead, and
MFU shows it as a lower figure. For XLS-R 300M (315 M parameters, ~302 M of them in the transformer) the dense
part is ~2 x parameters x frames, as for any transformer; the conv encoder adds ~4.9 GFLOP per audio second on
top (its 4 M parameters are applied at 3,200 down to 50 positions per second); attention adds 4 T d per frame and
layer, ~8 % of the dense part for a 10 s clip. tests/test_gpu_check.py checks the formula against
`torch.utils.flop_counter.FlopCounterMode` on the real XLS-R-300M shape.
"""

from __future__ import annotations

import re
from typing import Any

# Dense bf16 tensor-core peaks in TFLOP/s (vendor datasheets, without sparsity), matched against
# torch.cuda.get_device_name() in this order (more specific names first).
PEAK_BF16_TFLOPS: list[tuple[str, float]] = [
    (r"H100.*PCIe", 756.0),
    (r"H100 NVL", 835.0),
    (r"H200 NVL", 835.0),
    (r"GH200", 989.4),
    (r"H200", 989.4),
    (r"H100", 989.4),  # SXM ("NVIDIA H100 80GB HBM3")
    (r"H800", 989.4),
    (r"B200", 2250.0),
    (r"A100", 312.0),
    (r"A800", 312.0),
    (r"L40S", 362.1),
    (r"\bL4\b", 121.0),
    (r"\bA10\b", 125.0),
]


def peak_bf16_tflops(device_name: str) -> float | None:
    """Dense bf16 peak of a GPU from its name, or None when the table does not know it (pass --peak-tflops)."""
    for pattern, tflops in PEAK_BF16_TFLOPS:
        if re.search(pattern, device_name):
            return tflops
    return None


def conv_lengths(num_samples: int, kernels: Any, strides: Any) -> list[int]:
    """Output positions of each feature-encoder layer (the model's own formula), first to last."""
    lengths, length = [], num_samples
    for k, s in zip(kernels, strides, strict=True):
        length = max(0, (length - k) // s + 1)
        lengths.append(length)
    return lengths


def forward_flops(config: Any, num_samples: int) -> dict[str, float]:
    """FLOPs of one forward pass over one clip of `num_samples` samples, by part (see the module docstring)."""
    lengths = conv_lengths(num_samples, config.conv_kernel, config.conv_stride)
    channels = [1, *config.conv_dim]
    conv = sum(2.0 * n * k * cin * cout
               for n, k, cin, cout in zip(lengths, config.conv_kernel, channels[:-1], channels[1:], strict=True))
    t, d, f, layers = lengths[-1], config.hidden_size, config.intermediate_size, config.num_hidden_layers
    if t == 0:
        return {"conv": conv, "projection": 0.0, "pos_conv": 0.0, "dense": 0.0, "attention": 0.0, "head": 0.0}
    return {
        "conv": conv,
        "projection": 2.0 * t * channels[-1] * d,
        "pos_conv": 2.0 * (t + 1) * d * (d // config.num_conv_pos_embedding_groups) * config.num_conv_pos_embeddings,
        "dense": layers * 2.0 * t * (4 * d * d + 2 * d * f),
        "attention": layers * 4.0 * t * t * d,
        "head": 2.0 * t * d * config.vocab_size,
    }


def training_flops(config: Any, num_samples: int, frozen_feature_encoder: bool = True) -> float:
    """Model FLOPs of one training step (forward + backward, no recomputation) over one clip."""
    parts = forward_flops(config, num_samples)
    conv = parts.pop("conv")
    return (1.0 if frozen_feature_encoder else 3.0) * conv + 3.0 * sum(parts.values())


def eval_flops(config: Any, num_samples: int) -> float:
    """Model FLOPs of one forward pass (evaluation) over one clip."""
    return sum(forward_flops(config, num_samples).values())
