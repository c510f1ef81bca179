#pragma once
// Reads a case's test data: which graph inputs and outputs the numbered .pb files belong to, and
// the TensorProtos themselves, decoded by the ONNX frontend's own tensor_proto code.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "ir/tensor.h"

namespace kiln::conformance {

/// A graph input or output as the model declares it.
struct GraphPort {
    std::string name;
    std::string kind;  // "tensor", "sequence", "optional", "map", "sparse tensor" or "unknown"
    int32_t elementType{0};  // the declared ONNX element type of a tensor port; 0 when not declared
};

struct GraphPorts {
    std::vector<GraphPort> inputs;  // initializers that are also listed as inputs are left out
    std::vector<GraphPort> outputs;
};

Expected<GraphPorts> readGraphPorts(const std::string& modelPath);

struct NamedTensor {
    std::string name;
    Tensor tensor;  // a tensor port's data
    /// A sequence or optional port (an onnx.SequenceProto / OptionalProto file): whether it holds a
    /// value (false for an empty optional) and its tensors (a sequence's elements, or the optional's
    /// tensor or sequence elements).
    bool container{false};
    bool present{true};
    std::vector<Tensor> elements;
};

struct DataSet {
    std::vector<NamedTensor> inputs;
    std::vector<NamedTensor> expectedOutputs;
};

/// input_j.pb belongs to ports.inputs[j] and output_j.pb to ports.outputs[j] (the TensorProto's own
/// name is kept when it has one). Sequence and optional ports read onnx.SequenceProto /
/// OptionalProto files of tensors. Maps and element types Kiln lacks are errors naming
/// the file. A uint16 TensorProto for a port declared bfloat16 holds the bfloat16 bit patterns
/// (ONNX 1.12's data: numpy had no bfloat16) and is read as bfloat16.
Expected<DataSet> loadDataSet(const std::string& dataSetDirectory, const GraphPorts& ports);

}  // namespace kiln::conformance
