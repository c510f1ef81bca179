#include "ir/value_kind.h"

namespace kiln {

ContainerType ContainerType::optionalOf(const ContainerType& inner) {
    ContainerType type = inner;
    type.kind = inner.holdsSequence() ? ValueKind::kOptionalSequence : ValueKind::kOptionalTensor;
    return type;
}

const char* valueKindName(ValueKind kind) {
    switch (kind) {
        case ValueKind::kTensor: return "tensor";
        case ValueKind::kSequence: return "sequence";
        case ValueKind::kOptionalTensor: return "optional tensor";
        case ValueKind::kOptionalSequence: return "optional sequence";
    }
    return "unknown kind";
}

std::string containerTypeName(const ContainerType& type) {
    const std::string element = dataTypeName(type.elementType);
    switch (type.kind) {
        case ValueKind::kTensor: return "tensor";
        case ValueKind::kSequence: return "seq(" + element + ")";
        case ValueKind::kOptionalTensor: return "optional(" + element + ")";
        case ValueKind::kOptionalSequence: return "optional(seq(" + element + "))";
    }
    return "unknown kind";
}

}  // namespace kiln

namespace kiln {

std::vector<int64_t> encodeContainerType(const ContainerType& type) {
    return {static_cast<int64_t>(type.kind), static_cast<int64_t>(type.elementType)};
}

std::optional<ContainerType> decodeContainerType(const std::vector<int64_t>& encoded) {
    // DataType's codes run from 0 to kSTRING, the last one.
    if (encoded.size() != 2 || encoded[0] < 0 || encoded[0] > static_cast<int64_t>(ValueKind::kOptionalSequence) ||
        encoded[1] < 0 || encoded[1] > static_cast<int64_t>(DataType::kSTRING))
        return std::nullopt;
    ContainerType type;
    type.kind = static_cast<ValueKind>(encoded[0]);
    type.elementType = static_cast<DataType>(encoded[1]);
    return type;
}

}  // namespace kiln
