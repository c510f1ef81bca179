#include "backends/cuda/kernels/index_values.h"

#include <cstring>

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

IndexInput::IndexInput(const Value* value) : mPresent(value != nullptr) {
    if (value && value->isConstant() &&
        (value->constant->dtype() == DataType::kINT64 || value->constant->dtype() == DataType::kINT32))
        mConstant = value->constant->toInt64Vector();
}

Expected<std::vector<int64_t>> IndexInput::read(const TensorView& view, cudaStream_t stream,
                                                const std::string& what) const {
    if (mConstant) return *mConstant;
    const int64_t count = view.elementCount();
    std::vector<int64_t> values(static_cast<size_t>(count));
    if (count == 0) return values;
    if (!view.data && !view.hostData) return invalidArgument(what + " has no data");
    if (view.dtype != DataType::kINT64 && view.dtype != DataType::kINT32)
        return invalidArgument(what + " must be int32 or int64, not " + dataTypeName(view.dtype));
    std::vector<int32_t> narrow(view.dtype == DataType::kINT32 ? static_cast<size_t>(count) : 0);
    void* host = view.dtype == DataType::kINT64 ? static_cast<void*>(values.data()) : narrow.data();
    if (view.hostData) {
        std::memcpy(host, view.hostData, view.byteSize());
    } else {
        KILN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host, view.data, view.byteSize(), cudaMemcpyDeviceToHost, stream));
        KILN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    }
    for (size_t i = 0; i < narrow.size(); ++i) values[i] = narrow[i];
    return values;
}

}  // namespace kiln::cuda
