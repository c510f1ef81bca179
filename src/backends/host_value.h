#pragma once
// The contents of a sequence or optional value at run time (ir/value_kind.h): tensors in host
// memory, reached through the handle tensor that the value runs as. Only host kernels (the Sequence*
// and Optional* ops on the CPU backend) look inside; everything else moves the 8-byte handle.
//
// A HostValue is immutable once stored: SequenceInsert makes a new one sharing the element tensors
// (Tensor storage is shared), so a handle copied into Loop state or an If output stays valid. The
// execution context owns one store and clears it at the start of every run, like the string arena,
// so the sequences a run returns stay valid until the next run on that context.

#include <cstring>
#include <deque>
#include <vector>

#include "backends/tensor_view.h"
#include "common/status.h"
#include "ir/value_kind.h"

namespace kiln {

struct HostValue {
    ContainerType type;           // kind and element type; elementShape is not used
    bool hasElement{true};        // an optional's: whether it holds its tensor or sequence
    std::vector<Tensor> tensors;  // a sequence's elements (of an optional sequence too); an optional tensor's one
};

class HostValueStore {
public:
    /// Keeps `value` until clear(); the address is stable (a deque never moves its elements).
    const HostValue* add(HostValue value) { return &mValues.emplace_back(std::move(value)); }
    void clear() { mValues.clear(); }

private:
    std::deque<HostValue> mValues;
};

/// The HostValue a handle tensor (host memory) points to; an error for a tensor that is no handle or
/// a handle nothing has written.
inline Expected<const HostValue*> readHandle(const TensorView& view, const char* what) {
    if (view.dtype != kHandleType || view.elementCount() != 1 || !view.data)
        return invalidArgument(std::string(what) + " is not a sequence or optional value");
    const HostValue* value = nullptr;
    std::memcpy(&value, view.data, sizeof value);
    if (!value) return invalidArgument(std::string(what) + " is a sequence or optional that was never set");
    return value;
}

inline void writeHandle(const TensorView& view, const HostValue* value) { std::memcpy(view.data, &value, sizeof value); }

static_assert(sizeof(const HostValue*) <= 8, "a handle holds a host pointer in an int64");

}  // namespace kiln
