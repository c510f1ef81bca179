#pragma once
// Calibrated INT8 as explicit quantization: QuantizeLinear -> DequantizeLinear pairs (int8, zero point
// 0) before the activation inputs of Conv, ConvTranspose, MatMul and Gemm with the calibrated per-tensor
// scale, and per-output-channel symmetric ones on their constant weights (scale = max|w| / 127 per
// channel). This is the graph TensorRT's explicit-quantization path and NVIDIA ModelOpt produce: every
// backend that runs Q/DQ then computes with INT8-rounded operands. Weight pairs constant-fold into
// INT8-grid weights; per-channel scales survive BatchNorm folding, which scales whole output channels.

#include <map>
#include <string>
#include <vector>

#include "passes/pass.h"

namespace kiln {

/// The activation tensors the pass quantizes, in graph order: float32, not constant, read by one of
/// the quantized operators as a data operand (not a bias). Calibration measures exactly these.
std::vector<const Value*> quantizableActivations(const Graph& graph);

class Int8QdqInsertion : public Pass {
public:
    /// `scales`: tensor name -> per-tensor scale (amax / 127) from calibration or its cache. Tensors
    /// without a scale, or with a zero one (all zeros when calibrated), stay unquantized, and so do the
    /// weights of a layer none of whose activation inputs is quantized.
    explicit Int8QdqInsertion(std::map<std::string, float> scales) : mScales(std::move(scales)) {}
    const char* name() const override { return "Int8QdqInsertion"; }
    Expected<bool> run(Graph& graph, PassContext& ctx) override;

private:
    std::map<std::string, float> mScales;
};

}  // namespace kiln
