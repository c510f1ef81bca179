#pragma once
// Reading an ONNX ModelProto from a file or from memory, and the version checks that decide
// whether Kiln can import it. Messages give the reason only; the parser names the model.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "onnx.pb.h"

namespace kiln::onnx_import {

/// The newest default-domain opset Kiln imports: onnx.defs.onnx_opset_version() of the pinned onnx
/// package (1.23, scripts/requirements.txt). Raise it together with the opset upgrades.
constexpr int64_t kNewestOpset = 28;
/// The oldest: opset 1. The opset upgrades bring every older form to the newest one
/// (opset_upgrade_early.cpp covers the ops that changed up to opset 6), or refuse the node with
/// the reason.
constexpr int64_t kOldestOpset = 1;
/// IR version 3 introduced opset imports; 14 is onnx.IR_VERSION of the pinned onnx package.
constexpr int64_t kOldestIrVersion = 3;
constexpr int64_t kNewestIrVersion = 14;

/// Parses a serialized model. kInvalidModel: empty, malformed or truncated; kUnsupported: over
/// protobuf's 2 GB limit.
Status parseModel(const void* data, size_t size, onnx::ModelProto& model);
/// Reads and parses the file at `path` without holding its bytes twice. kIoError when unreadable.
Status readModelFile(const std::string& path, onnx::ModelProto& model);

/// Checks that the model has a graph and that Kiln supports its IR version and default-domain
/// opset; returns that opset.
Expected<int64_t> checkModel(const onnx::ModelProto& model);

}  // namespace kiln::onnx_import
