#!/usr/bin/env python3
"""Exports the real models of Kiln's end-to-end tests to ONNX with torch.onnx.export.

Random weights from a fixed seed (no downloads), eval mode. Each export is skipped when its file
exists and is newer than this script and the model code, so re-running the tests costs nothing.
Files go to --out (default: build/models of the repository, never the source tree).

    export_models.py [--out DIR] [--only NAME ...] [--force] [--list]
"""

import argparse
import os
import sys
import time
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent.parent
# Files whose change makes every export stale.
SOURCES = [Path(__file__).resolve(), SCRIPT_DIR / "bert_encoder.py"]

SEED = 0
BERT_BATCH, BERT_SEQ = 2, 16  # the trace example; both axes are exported as dynamic


def randomize_batch_norms(model, torch):
    """Gives every BatchNorm non-trivial statistics and affine parameters: a fresh torchvision
    model has mean 0 / var 1 / scale 1 / shift 0, which would let a wrong BatchNorm pass."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)


def export_resnet50(path, torch):
    import torchvision

    torch.manual_seed(SEED)
    model = torchvision.models.resnet50(weights=None)
    randomize_batch_norms(model, torch)
    model.eval()
    # The default (EVAL) export folds each BatchNorm into its Conv, as users' exports do.
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(path), opset_version=13, input_names=["input"],
                      output_names=["output"])


def export_mobilenet_v2(path, torch):
    import torchvision

    torch.manual_seed(SEED)
    model = torchvision.models.mobilenet_v2(weights=None)
    randomize_batch_norms(model, torch)
    model.eval()
    # PRESERVE keeps the BatchNormalization nodes (in inference form, since the model is in eval
    # mode), so Kiln's own BatchNorm folding is exercised; opset 11 turns ReLU6 into Clip with
    # min/max as inputs. The batch is dynamic, as in the export -> build -> deploy workflow. No
    # constant folding by torch (it warns under PRESERVE): Kiln folds what is left.
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(path), opset_version=11, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)


def make_bert_exporter(opset):
    def export(path, torch):
        sys.path.insert(0, str(SCRIPT_DIR))
        from bert_encoder import BertConfig, BertEncoderModel

        torch.manual_seed(SEED)
        model = BertEncoderModel(BertConfig()).eval()
        input_ids = torch.randint(0, 30522, (BERT_BATCH, BERT_SEQ), dtype=torch.long)
        attention_mask = torch.ones(BERT_BATCH, BERT_SEQ, dtype=torch.long)
        sequence_axes = {0: "batch", 1: "seq"}
        # Opset 14 decomposes LayerNorm (ReduceMean/Sub/Pow/Sqrt/Div); opset 17 emits LayerNormalization.
        torch.onnx.export(model, (input_ids, attention_mask), str(path), opset_version=opset,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={"input_ids": sequence_axes, "attention_mask": sequence_axes,
                                        "last_hidden_state": sequence_axes, "pooler_output": {0: "batch"}})

    return export


def export_bert_small_ort_optimized(path, torch):
    """A 4-layer BERT (hidden 256, 4 heads) through ONNX Runtime's transformer optimizer, which
    writes its contrib ops: EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu."""
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model

    sys.path.insert(0, str(SCRIPT_DIR))
    from bert_encoder import BertConfig, BertEncoderModel

    torch.manual_seed(SEED)
    config = BertConfig(hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024)
    model = BertEncoderModel(config).eval()
    input_ids = torch.randint(0, config.vocab_size, (BERT_BATCH, BERT_SEQ), dtype=torch.long)
    attention_mask = torch.ones(BERT_BATCH, BERT_SEQ, dtype=torch.long)
    sequence_axes = {0: "batch", 1: "seq"}
    plain = path.with_suffix(".plain.onnx")
    torch.onnx.export(model, (input_ids, attention_mask), str(plain), opset_version=17,
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state", "pooler_output"],
                      dynamic_axes={"input_ids": sequence_axes, "attention_mask": sequence_axes,
                                    "last_hidden_state": sequence_axes, "pooler_output": {0: "batch"}})
    optimized = optimize_model(str(plain), model_type="bert", num_heads=config.num_heads, hidden_size=config.hidden_size)
    plain.unlink()
    contrib = {node.op_type for node in optimized.model.graph.node if node.domain == "com.microsoft"}
    expected = {"EmbedLayerNormalization", "Attention", "SkipLayerNormalization", "BiasGelu"}
    if not expected <= contrib:
        raise SystemExit(f"ONNX Runtime's optimizer wrote {sorted(contrib)}, not all of {sorted(expected)}")
    onnx.save(optimized.model, str(path))


def export_vit_b_16(path, torch):
    import torchvision

    torch.manual_seed(SEED)
    model = torchvision.models.vit_b_16(weights=None)
    # torchvision starts the classifier at zero, which would make every output 0 and any engine
    # "correct": give it random weights like the rest.
    with torch.no_grad():
        model.heads.head.weight.normal_(0.0, 0.02)
        model.heads.head.bias.normal_(0.0, 0.02)
    model.eval()
    # torchvision's ViT attention is nn.MultiheadAttention, which the exporter writes out as
    # MatMul / Softmax / Transpose chains; the batch is dynamic.
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(path), opset_version=14, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


MODELS = {
    "resnet50": export_resnet50,
    "vit_b_16": export_vit_b_16,
    "mobilenet_v2": export_mobilenet_v2,
    "bert_base_opset14": make_bert_exporter(14),
    "bert_base_opset17": make_bert_exporter(17),
    "bert_small_ort_optimized": export_bert_small_ort_optimized,
}


def is_fresh(path):
    if not path.exists():
        return False
    newest_source = max(source.stat().st_mtime for source in SOURCES)
    return path.stat().st_mtime > newest_source


def in_source_tree(path):
    """True for a folder of the repository other than a build folder (build*/ is ignored by git)."""
    root = REPO_ROOT.resolve()
    if path != root and root not in path.parents:
        return False
    parts = path.relative_to(root).parts
    return not parts or not parts[0].startswith("build")


def export_one(name, out_dir, force):
    path = out_dir / f"{name}.onnx"
    if not force and is_fresh(path):
        print(f"[export] {name}: up to date ({path})")
        return path
    import onnx
    import torch

    start = time.monotonic()
    # Write beside the target and rename, so an interrupted export never leaves a file that
    # looks fresh.
    partial = path.with_suffix(".onnx.partial")
    MODELS[name](partial, torch)
    onnx.checker.check_model(str(partial))
    os.replace(partial, path)
    size_mb = path.stat().st_size / 1e6
    print(f"[export] {name}: {path} ({size_mb:.1f} MB, {time.monotonic() - start:.1f} s)")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "models", help="output folder")
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS), help="export only these models")
    parser.add_argument("--force", action="store_true", help="export even when the file is up to date")
    parser.add_argument("--list", action="store_true", help="print the model names and exit")
    args = parser.parse_args()

    if args.list:
        print("\n".join(MODELS))
        return 0
    out_dir = args.out.resolve()
    if in_source_tree(out_dir):
        parser.error(f"--out {out_dir} is inside the source tree; export into a build folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.only or MODELS:
        export_one(name, out_dir, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
