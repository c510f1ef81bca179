// Det on the CPU: LU decomposition with partial pivoting of each [M, M] matrix, in double (the
// determinant's magnitude varies a lot, so the pivots are kept in double and rounded once).

#include <cmath>
#include <utility>
#include <vector>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/element_access.h"
#include "backends/cpu/kernels/kernel_families.h"

namespace kiln {

namespace {

/// The determinant of the row-major n x n matrix `a` (overwritten).
double luDeterminant(std::vector<double>& a, int64_t n) {
    double det = 1.0;
    for (int64_t col = 0; col < n; ++col) {
        int64_t pivot = col;
        for (int64_t r = col + 1; r < n; ++r)
            if (std::fabs(a[static_cast<size_t>(r * n + col)]) > std::fabs(a[static_cast<size_t>(pivot * n + col)])) pivot = r;
        const double p = a[static_cast<size_t>(pivot * n + col)];
        if (p == 0.0) return 0.0;
        if (pivot != col) {
            for (int64_t c = 0; c < n; ++c) std::swap(a[static_cast<size_t>(col * n + c)], a[static_cast<size_t>(pivot * n + c)]);
            det = -det;
        }
        det *= p;
        for (int64_t r = col + 1; r < n; ++r) {
            const double f = a[static_cast<size_t>(r * n + col)] / p;
            for (int64_t c = col; c < n; ++c) a[static_cast<size_t>(r * n + c)] -= f * a[static_cast<size_t>(col * n + c)];
        }
    }
    return det;
}

Status runDet(const KernelIO& io) {
    const TensorView& x = io.input(0);
    const int64_t n = x.shape.back();
    const int64_t matrices = n == 0 ? io.output(0).elementCount() : x.elementCount() / (n * n);
    std::vector<double> a(static_cast<size_t>(n * n));
    for (int64_t m = 0; m < matrices; ++m) {
        for (int64_t i = 0; i < n * n; ++i) a[static_cast<size_t>(i)] = cpu::valueAt(x, m * n * n + i);
        cpu::storeAt(io.output(0), m, luDeterminant(a, n));  // an empty matrix's determinant is 1
    }
    return Status::ok();
}

}  // namespace

void registerDeterminantKernels(CpuKernelRegistry& registry) {
    registry.add({"Det",
                  [](const Node& node, std::string* reason) {
                      return inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16},
                                              reason);
                  },
                  [](const Node&) -> Expected<std::unique_ptr<Kernel>> {
                      return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>("cpu.det_lu", runDet));
                  },
                  ""});
}

}  // namespace kiln
