#pragma once
// What an ONNX file holds, read without importing it, for `kiln inspect`: versions, opsets, the
// graph's inputs and outputs, and each operator type with its count and whether Kiln can import
// it. Works on models that do not import (that is when the listing is most useful).

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace kiln::onnx_import {

struct OnnxTensorSummary {
    std::string name;
    std::string dtype;  // ONNX's name ("float", "int64", ...), "unknown" when missing
    std::string shape;  // "(batch, 3, 224, 224)"; "?" for an extent without value or name
};

struct OnnxOpSummary {
    std::string domain;  // "" for the default domain
    std::string opType;
    int64_t count{0};
    bool importable{false};            // the ONNX importer handles it at the model's opset
    std::vector<std::string> irOps;    // the IR op types it becomes (itself unless an upgrade renames it)
    std::string irDomain;              // their domain: "" for a contrib op, which becomes standard ops
};

struct OnnxModelSummary {
    int64_t irVersion{0};
    std::string producer;  // "pytorch 1.13.0"
    std::string graphName;
    std::vector<std::pair<std::string, int64_t>> opsets;  // (domain, version), "" is ai.onnx
    std::vector<OnnxTensorSummary> inputs;                // initializers excluded
    std::vector<OnnxTensorSummary> outputs;
    int64_t initializers{0};
    int64_t nodes{0};                 // of the main graph (subgraphs not counted)
    std::vector<OnnxOpSummary> ops;   // most frequent first
};

/// Reads and summarizes the model at `path`. Errors name the problem (unreadable, malformed).
Expected<OnnxModelSummary> summarizeOnnxModel(const std::string& path);

}  // namespace kiln::onnx_import
