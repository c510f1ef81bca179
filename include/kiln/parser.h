#pragma once
/// \file parser.h
/// The ONNX parser: fills a NetworkDefinition from an ONNX model (onnx-tensorrt's IParser shape).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/logger.h"
#include "kiln/network.h"

namespace kiln {

/// One problem found while parsing, with the node it belongs to (-1 when none).
struct ParserError {
    int64_t nodeIndex{-1};
    std::string nodeName;
    std::string opType;
    std::string message;
    /// "node 12 'Conv_3' (Conv): message", or just the message.
    std::string describe() const;
};

class Parser {
public:
    virtual ~Parser() = default;
    /// Parses the ONNX file at `path` (external-data weights are read relative to its folder).
    /// At kVERBOSE the logger receives, per node, its inputs with shapes, the IR nodes it became
    /// and its outputs with shapes. False when the model cannot be imported; getError() says why,
    /// listing every unsupported node, not only the first.
    virtual bool parseFromFile(const char* path) noexcept = 0;
    /// Parses a model held in memory; `modelDir` locates external data (may be nullptr).
    virtual bool parse(const void* data, size_t size, const char* modelDir) noexcept = 0;
    virtual int32_t getNbErrors() const noexcept = 0;
    virtual const ParserError* getError(int32_t index) const noexcept = 0;
    virtual void clearErrors() noexcept = 0;
};

std::unique_ptr<Parser> createParser(NetworkDefinition& network, ILogger& logger) noexcept;

}  // namespace kiln
