#pragma once
// The attributes of an RNN / GRU / LSTM node as the CUDA recurrent kernels take them: plain values that
// can be passed to a kernel launch. Read by recurrent_config.cpp with the CPU backend's parser of the
// `activations` lists, so that both backends accept and default the same functions.

#include <cstdint>

#include "common/status.h"
#include "ir/graph.h"

namespace kiln::cuda {

enum class RecurrentCell : int { kRnn, kGru, kLstm };

/// The gate functions (recurrent_activation.h's list).
enum class GateFn : int {
    kRelu,
    kTanh,
    kSigmoid,
    kAffine,
    kLeakyRelu,
    kThresholdedRelu,
    kScaledTanh,
    kHardSigmoid,
    kElu,
    kSoftsign,
    kSoftplus,
};

struct GateSpec {
    GateFn function{GateFn::kTanh};
    float alpha{0.0f};
    float beta{0.0f};
};

constexpr int kMaxGateFunctions = 3;  // LSTM's f, g, h

struct RecurrentConfig {
    RecurrentCell cell{RecurrentCell::kRnn};
    int gates{1};
    bool bidirectional{false};
    bool reverse{false};  // the single direction runs backwards
    int64_t layout{0};
    bool hasClip{false};
    float clip{0.0f};
    bool linearBeforeReset{false};  // GRU
    bool inputForget{false};        // LSTM
    /// Per direction: the functions in ONNX's order (f, g, h).
    GateSpec activations[2][kMaxGateFunctions];

    int directions() const { return bidirectional ? 2 : 1; }
};

/// The node's attributes; an unknown activation or a wrong count is an error naming the node.
Expected<RecurrentConfig> recurrentConfigOf(const Node& node, RecurrentCell cell);

}  // namespace kiln::cuda
