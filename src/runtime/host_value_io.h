#pragma once
// Sequence and optional I/O of an engine (ir/value_kind.h): each is bound, instead of to a caller's
// buffer, to a handle slot of the context (ContextImpl::ioHandles) that points to the caller's
// input contents or, after a run, to the output the kernels produced.

#include "runtime/engine_impl.h"

namespace kiln {

/// Binds every sequence and optional I/O of the context's engine to its handle slot.
void bindHostValueIO(ContextImpl& ctx);

}  // namespace kiln
