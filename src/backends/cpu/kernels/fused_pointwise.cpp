// kiln::FusedPointwise on the CPU: the program (src/ir/pointwise_program.h) runs over blocks of up
// to kBlock output elements along the innermost folded dimension. Each instruction is one tight
// loop over its block, using the same scalar functors as the unfused kernels (so fusing does not
// change a single bit of the result); contiguous inputs are read in place, broadcast ones are
// filled into a block buffer once per block. Every value is read once from memory and the result
// written once, while the intermediate blocks stay in L1.

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/broadcast.h"
#include "backends/cpu/kernels/elementwise_activation_math.h"
#include "backends/cpu/kernels/elementwise_math.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "ir/pointwise_program.h"

namespace kiln {

namespace {

using namespace cpu;

constexpr int64_t kBlock = 512;

template <typename F>
void mapUnary(F f, const float* a, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
}

template <typename F>
void mapBinary(F f, const float* a, const float* b, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
}

void execute(const PointwiseInstruction& in, const float* a, const float* b, float* out, int64_t n) {
    switch (in.op) {
        case PointwiseOp::kRelu: return mapUnary(ReluOp{}, a, out, n);
        case PointwiseOp::kLeakyRelu: return mapUnary(LeakyReluOp{in.alpha}, a, out, n);
        case PointwiseOp::kElu: return mapUnary(EluOp{in.alpha}, a, out, n);
        case PointwiseOp::kSigmoid: return mapUnary(SigmoidOp{}, a, out, n);
        case PointwiseOp::kHardSigmoid: return mapUnary(HardSigmoidOp{in.alpha, in.beta}, a, out, n);
        case PointwiseOp::kHardSwish: return mapUnary(HardSwishOp{}, a, out, n);
        case PointwiseOp::kTanh: return mapUnary(TanhOp{}, a, out, n);
        case PointwiseOp::kSoftplus: return mapUnary(SoftplusOp{}, a, out, n);
        case PointwiseOp::kGeluErf: return mapUnary(GeluErfOp{}, a, out, n);
        case PointwiseOp::kGeluTanh: return mapUnary(GeluTanhOp{}, a, out, n);
        case PointwiseOp::kClip: return mapUnary(ClipOp<float>{in.alpha, in.beta}, a, out, n);
        case PointwiseOp::kExp: return mapUnary(ExpOp{}, a, out, n);
        case PointwiseOp::kLog: return mapUnary(LogOp{}, a, out, n);
        case PointwiseOp::kSqrt: return mapUnary(SqrtOp{}, a, out, n);
        case PointwiseOp::kReciprocal: return mapUnary(ReciprocalOp{}, a, out, n);
        case PointwiseOp::kAbs: return mapUnary(AbsOp{}, a, out, n);
        case PointwiseOp::kNeg: return mapUnary(NegOp{}, a, out, n);
        case PointwiseOp::kErf: return mapUnary(ErfOp{}, a, out, n);
        case PointwiseOp::kFloor: return mapUnary(FloorOp{}, a, out, n);
        case PointwiseOp::kCeil: return mapUnary(CeilOp{}, a, out, n);
        case PointwiseOp::kAdd: return mapBinary(AddOp{}, a, b, out, n);
        case PointwiseOp::kSub: return mapBinary(SubOp{}, a, b, out, n);
        case PointwiseOp::kMul: return mapBinary(MulOp{}, a, b, out, n);
        case PointwiseOp::kDiv: return mapBinary(DivOp{}, a, b, out, n);
        case PointwiseOp::kPow: return mapBinary(PowOp{}, a, b, out, n);
        case PointwiseOp::kMax: return mapBinary(MaxOp{}, a, b, out, n);
        case PointwiseOp::kMin: return mapBinary(MinOp{}, a, b, out, n);
        case PointwiseOp::kPRelu: return mapBinary(PReluOp{}, a, b, out, n);
    }
}

/// The output's shape with each input's element strides (0 where it is broadcast), adjacent dims
/// merged where every input walks them as one, size-1 dims dropped.
struct FoldedLayout {
    std::vector<int64_t> dims;                  // outermost first; at least one
    std::vector<std::vector<int64_t>> strides;  // [input][dim]
    int64_t elements{1};
};

Expected<FoldedLayout> foldLayout(const std::vector<TensorView>& inputs, const Shape& out) {
    const size_t rank = out.size();
    FoldedLayout layout;
    std::vector<std::vector<int64_t>> full(inputs.size(), std::vector<int64_t>(rank, 0));
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Shape& s = inputs[i].shape;
        if (s.size() > rank) return invalidArgument("a pointwise input has a higher rank than the output");
        int64_t stride = 1;
        for (size_t k = 0; k < s.size(); ++k) {
            size_t d = rank - 1 - k;
            int64_t extent = s[s.size() - 1 - k];
            if (extent != 1 && extent != out[d]) return invalidArgument("a pointwise input does not broadcast");
            full[i][d] = extent == 1 ? 0 : stride;
            stride *= extent;
        }
    }
    layout.strides.assign(inputs.size(), {});
    for (size_t d = 0; d < rank; ++d) {
        layout.elements *= out[d];
        if (out[d] == 1) continue;
        bool merge = !layout.dims.empty();
        for (size_t i = 0; merge && i < inputs.size(); ++i)
            merge = layout.strides[i].back() == full[i][d] * out[d];
        if (merge) {
            layout.dims.back() *= out[d];
            for (size_t i = 0; i < inputs.size(); ++i) layout.strides[i].back() = full[i][d];
        } else {
            layout.dims.push_back(out[d]);
            for (size_t i = 0; i < inputs.size(); ++i) layout.strides[i].push_back(full[i][d]);
        }
    }
    if (layout.dims.empty()) {
        layout.dims.push_back(1);
        for (auto& s : layout.strides) s.push_back(0);
    }
    return layout;
}

class FusedPointwiseKernel : public Kernel {
public:
    explicit FusedPointwiseKernel(PointwiseProgram program) : mProgram(std::move(program)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        KILN_ASSIGN_OR_RETURN(mLayout, foldLayout(inputs, outputs[0].shape));
        mThreads = mLayout.elements >= kParallelThreshold ? omp_get_max_threads() : 1;
        return Status::ok();
    }
    /// Per thread: one block per input (broadcast fill) and per instruction.
    size_t workspaceSize() const override {
        return static_cast<size_t>(mThreads) * slotCount() * kBlock * sizeof(float);
    }
    std::string tacticName() const override {
        return "cpu.fused_pointwise_" + std::to_string(mProgram.code.size()) + "_ops";
    }

    Status run(const KernelIO& io) override {
        if (mLayout.elements == 0) return Status::ok();
        const int64_t inner = mLayout.dims.back();
        const int64_t rows = mLayout.elements / inner;
        const int64_t blocksPerRow = (inner + kBlock - 1) / kBlock;
        const int64_t tasks = rows * blocksPerRow;
        float* scratch = static_cast<float*>(io.workspace);
#pragma omp parallel for schedule(static) num_threads(mThreads) if (mThreads > 1)
        for (int64_t task = 0; task < tasks; ++task) {
            float* mine = scratch + static_cast<size_t>(omp_get_thread_num()) * slotCount() * kBlock;
            runBlock(io, task / blocksPerRow, (task % blocksPerRow) * kBlock, mine);
        }
        return Status::ok();
    }

private:
    size_t slotCount() const { return mProgram.numInputs + mProgram.code.size(); }

    void runBlock(const KernelIO& io, int64_t row, int64_t begin, float* scratch) const {
        const size_t numInputs = mProgram.numInputs;
        const size_t rank = mLayout.dims.size();
        const int64_t n = std::min(kBlock, mLayout.dims.back() - begin);
        std::array<const float*, kMaxPointwiseSlots> slots{};
        for (size_t i = 0; i < numInputs; ++i) {
            int64_t offset = 0, rest = row;
            for (size_t d = rank - 1; d-- > 0;) {
                offset += (rest % mLayout.dims[d]) * mLayout.strides[i][d];
                rest /= mLayout.dims[d];
            }
            const float* base = static_cast<const float*>(io.input(i).data) + offset;
            if (mLayout.strides[i].back() == 1) {
                slots[i] = base + begin;
            } else {
                float* fill = scratch + i * kBlock;
                std::fill(fill, fill + n, *base);
                slots[i] = fill;
            }
        }
        float* output = static_cast<float*>(io.output(0).data) + row * mLayout.dims.back() + begin;
        for (size_t k = 0; k < mProgram.code.size(); ++k) {
            const PointwiseInstruction& in = mProgram.code[k];
            bool last = k + 1 == mProgram.code.size();
            float* dst = last ? output : scratch + (numInputs + k) * kBlock;
            execute(in, slots[in.a], in.b >= 0 ? slots[in.b] : nullptr, dst, n);
            slots[numInputs + k] = dst;
        }
    }

    PointwiseProgram mProgram;
    FoldedLayout mLayout;
    int mThreads{1};
};

Expected<std::unique_ptr<Kernel>> createFusedPointwise(const Node& node) {
    KILN_ASSIGN_OR_RETURN(PointwiseProgram program, PointwiseProgram::fromNode(node));
    return std::unique_ptr<Kernel>(std::make_unique<FusedPointwiseKernel>(std::move(program)));
}

}  // namespace

void registerFusedPointwiseKernels(CpuKernelRegistry& registry) {
    registry.add({"FusedPointwise", {}, createFusedPointwise, "kiln", true});
}

}  // namespace kiln
