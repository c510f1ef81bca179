#pragma once
// The kinds of value ONNX has besides tensors: a sequence of tensors (seq(tensor)) and an optional
// of a tensor or of a sequence (optional(...)). The IR types such a value by what it holds: the
// element type of its tensors and, when every element has it, their shape.
//
// At run time a non-tensor value travels through the tensor machinery as a *handle*: a 0-d
// kHandleType tensor whose 8 bytes point to a HostValue in the execution's host store
// (backends/host_value.h). So the memory planner, the engine's buffers, Identity and the control
// flow kernels (If outputs, Loop-carried state) move sequences and optionals without knowing them,
// and only the nodes that look inside one (the Sequence* and Optional* ops) need to. Value::dtype
// and Value::shape of such a value are the handle's; ContainerType says what it really is.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/sym_shape.h"
#include "ir/tensor.h"

namespace kiln {

enum class ValueKind : uint8_t {
    kTensor = 0,
    kSequence = 1,          // seq(tensor(elementType))
    kOptionalTensor = 2,    // optional(tensor(elementType))
    kOptionalSequence = 3,  // optional(seq(tensor(elementType)))
};

/// The element type of the handle tensor a non-tensor value runs as (a host pointer's bits).
inline constexpr DataType kHandleType = DataType::kINT64;

/// What a value is: a tensor, or a sequence / optional with what its tensors are.
struct ContainerType {
    ValueKind kind{ValueKind::kTensor};
    DataType elementType{DataType::kFLOAT};
    /// The shape every element has, as far as it is known; nullopt when even the rank varies or
    /// is unknown.
    std::optional<SymShape> elementShape;

    bool isTensor() const { return kind == ValueKind::kTensor; }
    bool holdsSequence() const { return kind == ValueKind::kSequence || kind == ValueKind::kOptionalSequence; }
    bool isOptional() const { return kind == ValueKind::kOptionalTensor || kind == ValueKind::kOptionalSequence; }
    /// Same kind and element type (element shapes may differ: sequences' shapes vary by nature).
    bool sameKindAs(const ContainerType& other) const {
        return kind == other.kind && (isTensor() || elementType == other.elementType);
    }

    static ContainerType sequenceOf(DataType type, std::optional<SymShape> shape) {
        return {ValueKind::kSequence, type, std::move(shape)};
    }
    static ContainerType optionalOf(const ContainerType& inner);
};

/// "seq(float)", "optional(seq(int64))", "tensor".
std::string containerTypeName(const ContainerType& type);
const char* valueKindName(ValueKind kind);

}  // namespace kiln

namespace kiln {

/// A ContainerType as an int-list attribute [kind, element type]: how the importer keeps an ONNX
/// TypeProto attribute (Optional's `type`), since attributes hold no types.
std::vector<int64_t> encodeContainerType(const ContainerType& type);
/// Nullopt when `encoded` is not such a list.
std::optional<ContainerType> decodeContainerType(const std::vector<int64_t>& encoded);

}  // namespace kiln
