"""PyTorch's own scaled_dot_product_attention per backend (cuDNN, flash, memory-efficient) on one shape,
without a mask and with an additive key-padding mask as [B, 1, 1, S] and as [B, 1, S, S]: what the
attention kernels of the GPU machine's libraries do with a mask, for comparison with Kiln's layer
profile (docs/BENCHMARKS.md). CUDA events around each call, median of --runs after 5 warm-up calls.

    python3 bench/sdpa_probe.py [--batch 128 --heads 12 --seq 128 --head 64 --runs 50]
"""

import argparse

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def median_ms(fn, runs):
    for _ in range(5):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(runs):
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--head", type=int, default=64)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    b, h, s, d = args.batch, args.heads, args.seq, args.head
    q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=torch.half) for _ in range(3))
    padding = torch.zeros(b, 1, 1, s, device="cuda", dtype=torch.half)
    padding[:, :, :, -(s // 8):] = -10000
    masks = {"none": None, "[B,1,1,S]": padding, "[B,1,S,S]": padding.expand(b, 1, s, s).contiguous()}
    backends = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
                "efficient": SDPBackend.EFFICIENT_ATTENTION}
    print(f"B {b} H {h} S {s} D {d} float16, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    for name, backend in backends.items():
        for mask_name, mask in masks.items():
            try:
                with sdpa_kernel(backend):
                    ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), args.runs)
                print(f"{name:9s} mask {mask_name:9s}: {ms:.4f} ms")
            except RuntimeError as error:
                print(f"{name:9s} mask {mask_name:9s}: not available ({str(error).splitlines()[0][:60]})")


if __name__ == "__main__":
    main()
