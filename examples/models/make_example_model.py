#!/usr/bin/env python3
"""Makes examples/models/tiny_cnn.onnx, the small classifier of the README quickstart.

    input [N,3,32,32] -> Conv 3x3 (16) -> BatchNorm -> Relu -> MaxPool 2 -> Conv 3x3 (32) -> Relu
                      -> GlobalAveragePool -> Linear (10) -> Softmax -> probabilities [N,10]

Random weights from a fixed seed (it shows the workflow, it classifies nothing); the batch is a
dynamic axis so the quickstart can show an optimization profile. Exported with torch at opset 13,
which folds the BatchNorm into the first Conv. The output is byte-for-byte reproducible.

    make_example_model.py [--out examples/models/tiny_cnn.onnx]
"""

import argparse
from pathlib import Path

import torch
from torch import nn

SEED = 0


class TinyCnn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(32, classes)

    def forward(self, x):
        return torch.softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "tiny_cnn.onnx")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    model = TinyCnn()
    batch_norm = model.features[1]
    with torch.no_grad():  # non-trivial statistics, so the folded BatchNorm still does something
        batch_norm.running_mean.normal_(0.0, 0.1)
        batch_norm.running_var.uniform_(0.5, 1.5)
        batch_norm.weight.uniform_(0.5, 1.5)
        batch_norm.bias.normal_(0.0, 0.1)
    model.eval()
    torch.onnx.export(model, torch.randn(1, 3, 32, 32), str(args.out), opset_version=13, input_names=["input"],
                      output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}})
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
