// MaxUnpool on the CPU: zeros, then each X element written where its index points. The indices
// are flat offsets into the unpooled tensor (N x C x the unpool extents), as MaxPool's Indices
// output counts them; with an output_shape larger than that tensor, the unpooled tensor fills the
// leading corner of each spatial axis and the rest stays zero (ONNX's reference implementation).
// Elements are written in order, so when two share an index the later one stays.

#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/pooling_common.h"
#include "ir/ops/conv_window.h"

namespace kiln {

namespace {

class MaxUnpoolKernel : public Kernel {
public:
    explicit MaxUnpoolKernel(WindowSpec spec) : mSpec(std::move(spec)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        const Shape& x = inputs[0].shape;
        if (inputs[1].shape != x)
            return invalidArgument("indices I " + shapeToString(inputs[1].shape, true) + " must have the shape of X " +
                                   shapeToString(x, true));
        mUnpooled = {x[0], x[1]};
        for (size_t d = 0; d + 2 < x.size(); ++d) mUnpooled.push_back(unpoolExtent(mSpec, d, x[2 + d]));
        const Shape& y = outputs[0].shape;
        if (y.size() != x.size()) return invalidArgument("the output's rank differs from X's");
        for (size_t d = 0; d < y.size(); ++d)
            if (d < 2 ? y[d] != mUnpooled[d] : y[d] < mUnpooled[d])
                return invalidArgument("output_shape " + shapeToString(y, true) +
                                       " must keep N and C and hold the unpooled shape " +
                                       shapeToString(mUnpooled, true));
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        const size_t element = dataTypeSize(x.dtype);
        std::memset(y.data, 0, y.byteSize());
        const int64_t unpooledCount = shapeElementCount(mUnpooled);
        const int64_t* indices = io.input(1).as<const int64_t>();
        const auto* src = static_cast<const uint8_t*>(x.data);
        auto* dst = static_cast<uint8_t*>(y.data);
        const int64_t count = x.elementCount();
        for (int64_t i = 0; i < count; ++i) {
            const int64_t index = indices[i];
            if (index < 0 || index >= unpooledCount)
                return invalidArgument("index " + std::to_string(index) + " at flat position " + std::to_string(i) +
                                       " lies outside the unpooled tensor " + shapeToString(mUnpooled, true));
            std::memcpy(dst + static_cast<size_t>(outputOffset(index, y.shape)) * element,
                        src + static_cast<size_t>(i) * element, element);
        }
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.max_unpool"; }

private:
    /// The offset in the output (of shape `out`) of flat index `index` of the unpooled tensor.
    int64_t outputOffset(int64_t index, const Shape& out) const {
        int64_t offset = 0, stride = 1;
        for (size_t d = mUnpooled.size(); d-- > 0;) {
            offset += (index % mUnpooled[d]) * stride;
            index /= mUnpooled[d];
            stride *= out[d];
        }
        return offset;
    }

    WindowSpec mSpec;
    Shape mUnpooled;
};

bool supportsMaxUnpool(const Node& node, std::string* reason) {
    return cpu::supportsPoolNode(node, {DataType::kFLOAT, DataType::kHALF, DataType::kBF16, DataType::kDOUBLE}, 3,
                                 reason);
}

Expected<std::unique_ptr<Kernel>> createMaxUnpool(const Node& node) {
    const size_t rank = node.input(0)->shape.size();
    if (rank < 3) return invalidModel(node.describe() + ": X must have rank >= 3 (N x C x D1 ...)");
    auto spec = parseWindowSpec(node.attrs, rank - 2, std::nullopt, WindowKind::kPooling);
    if (!spec) return invalidModel(node.describe() + ": " + spec.status().message());
    return std::unique_ptr<Kernel>(new MaxUnpoolKernel(std::move(spec).value()));
}

}  // namespace

namespace cpu {

void registerUnpoolingKernels(CpuKernelRegistry& registry) {
    registry.add({"MaxUnpool", supportsMaxUnpool, createMaxUnpool, ""});
}

}  // namespace cpu

}  // namespace kiln
