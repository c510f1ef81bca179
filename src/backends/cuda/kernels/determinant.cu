// Det on float, float16, bfloat16 and double [..., M, M] tensors: the CPU backend's LU decomposition with
// partial pivoting (backends/cpu/kernels/determinant.cpp), one thread per matrix, in double (the
// determinant's magnitude varies a lot, so the pivots stay in double and the result is rounded once).
// Each thread factors its own copy of the matrix in the workspace. An empty matrix's determinant is 1.

#include <memory>
#include <string>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/element_types.cuh"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

using DetTypes = DeviceTypes<float, __half, __nv_bfloat16, double>;

template <typename T>
__global__ void determinantKernel(const T* x, T* out, double* scratch, int64_t matrices, int64_t n) {
    const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t size = n * n;
    for (int64_t m = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; m < matrices; m += step) {
        double* a = scratch + m * size;
        for (int64_t i = 0; i < size; ++i) a[i] = static_cast<double>(load(x[m * size + i]));
        double det = 1.0;
        for (int64_t col = 0; col < n; ++col) {
            int64_t pivot = col;
            for (int64_t r = col + 1; r < n; ++r)
                if (fabs(a[r * n + col]) > fabs(a[pivot * n + col])) pivot = r;
            const double p = a[pivot * n + col];
            if (p == 0.0) {
                det = 0.0;
                break;
            }
            if (pivot != col) {
                for (int64_t c = 0; c < n; ++c) {
                    const double t = a[col * n + c];
                    a[col * n + c] = a[pivot * n + c];
                    a[pivot * n + c] = t;
                }
                det = -det;
            }
            det *= p;
            for (int64_t r = col + 1; r < n; ++r) {
                const double f = a[r * n + col] / p;
                for (int64_t c = col; c < n; ++c) a[r * n + c] -= f * a[col * n + c];
            }
        }
        out[m] = store<T>(det);
    }
}

class DeterminantKernel : public Kernel {
public:
    explicit DeterminantKernel(const Node& node) : mType(node.input(0)->dtype), mName(node.describe()) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        if (x.size() < 2 || x[x.size() - 1] != x[x.size() - 2])
            return invalidArgument(mName + ": Det takes [..., M, M] matrices, not " + shapeToString(x, true));
        mN = x.back();
        mMatrices = outputs[0].elementCount();
        if (mN != 0 && mMatrices * mN * mN != inputs[0].elementCount())
            return invalidArgument(mName + ": the output " + shapeToString(outputs[0].shape, true) +
                                   " does not hold one value per matrix of " + shapeToString(x, true));
        return Status::ok();
    }

    size_t workspaceSize() const override { return static_cast<size_t>(mMatrices * mN * mN) * sizeof(double); }

    Status run(const KernelIO& io) override {
        if (mMatrices == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        DetTypes::dispatch(mType, [&](auto tag) {
            using T = decltype(tag);
            determinantKernel<T><<<elementwiseGrid(mMatrices), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data),
                static_cast<double*>(io.workspace), mMatrices, mN);
        });
        return launchStatus("determinantKernel");
    }

    std::string tacticName() const override { return std::string("cuda.det_lu_") + tacticTypeSuffix(mType); }

private:
    DataType mType;
    std::string mName;
    int64_t mN{0}, mMatrices{0};
};

}  // namespace

void registerDeterminantKernels(CudaKernelRegistry& registry) {
    registry.add({"Det",
                  [](const Node& node, std::string* reason) {
                      return inputsHaveType(node, 0, 1, DetTypes::types(), reason);
                  },
                  [](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<DeterminantKernel>(node));
                  }});
}

}  // namespace kiln::cuda
