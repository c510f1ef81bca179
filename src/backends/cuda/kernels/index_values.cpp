#include "backends/cuda/kernels/index_values.h"

#include <cuda_runtime.h>

#include "backends/cuda/cuda_status.h"

namespace kiln::cuda {

Expected<std::vector<int64_t>> readIndexValues(const TensorView& view, const std::string& what) {
    const int64_t count = view.elementCount();
    std::vector<int64_t> values(static_cast<size_t>(count));
    if (count == 0) return values;
    if (!view.data) return invalidArgument(what + " has no data");
    if (view.dtype == DataType::kINT64) {
        KILN_CUDA_RETURN_IF_ERROR(cudaMemcpy(values.data(), view.data, view.byteSize(), cudaMemcpyDeviceToHost));
    } else if (view.dtype == DataType::kINT32) {
        std::vector<int32_t> narrow(static_cast<size_t>(count));
        KILN_CUDA_RETURN_IF_ERROR(cudaMemcpy(narrow.data(), view.data, view.byteSize(), cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < narrow.size(); ++i) values[i] = narrow[i];
    } else {
        return invalidArgument(what + " must be int32 or int64, not " + dataTypeName(view.dtype));
    }
    return values;
}

}  // namespace kiln::cuda
