#pragma once
// Base of the CPU kernels of ops whose output shapes depend on input values (NonZero, Unique,
// NonMaxSuppression, ...). Such a kernel computes its outputs as host tensors in one go; when the
// runtime asks for the output shapes first (Kernel::computeOutputShapes), the tensors are kept and
// run() only copies them into the outputs it is then given.

#include <cstring>
#include <optional>
#include <vector>

#include "backends/backend.h"

namespace kiln {

class ValueDependentKernel : public Kernel {
public:
    Expected<std::vector<Shape>> computeOutputShapes(const KernelIO& io) final {
        KILN_ASSIGN_OR_RETURN(std::vector<Tensor> results, compute(io));
        std::vector<Shape> shapes;
        for (const Tensor& t : results) shapes.push_back(t.shape());
        mPending = std::move(results);
        return shapes;
    }

    Status run(const KernelIO& io) final {
        std::vector<Tensor> results;
        if (mPending) {
            results = std::move(*mPending);
            mPending.reset();
        } else {
            KILN_ASSIGN_OR_RETURN(results, compute(io));
        }
        for (size_t i = 0; i < io.numOutputs && i < results.size(); ++i) {
            const TensorView& out = io.output(i);
            if (!out.data) continue;
            if (out.shape != results[i].shape() || out.dtype != results[i].dtype())
                return internalError("output " + std::to_string(i) + " was given shape " + shapeToString(out.shape, true) +
                                     ", the values computed have shape " + shapeToString(results[i].shape(), true));
            if (results[i].byteSize() != 0) std::memcpy(out.data, results[i].data(), results[i].byteSize());
        }
        return Status::ok();
    }

protected:
    /// Every output of the node (omitted ones included) as a host tensor, from the inputs in `io`.
    virtual Expected<std::vector<Tensor>> compute(const KernelIO& io) = 0;

private:
    std::optional<std::vector<Tensor>> mPending;
};

}  // namespace kiln
