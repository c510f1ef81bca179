// CPU kernel of Einsum. Two operands of float or double whose labels are each batch (both
// operands and the output), row (first operand and output), column (second operand and output) or
// contracted (both operands, not the output) become a batched GEMM: both operands are copied into
// [batch, rows, contracted] and [batch, contracted, columns] order, multiplied by BLAS, and the
// product is copied into the output's label order. Every other equation (diagonals, a label
// summed within one operand, broadcast ellipsis extents, three or more operands, other types)
// runs as one loop nest over every label: output labels are the outer loops, the summed labels
// the inner ones; each operand's offset moves by its stride for the label (the sum of its axes'
// strides for a repeated label, i.e. a diagonal; 0 for an absent or broadcast axis). The loop nest
// accumulates in double (int64 for integer types).

#include <omp.h>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/matmul_gemm.h"
#include "backends/cpu/kernels/tensor_copy.h"
#include "ir/ops/einsum_equation.h"

namespace kiln {

namespace {

class EinsumKernel : public Kernel {
public:
    explicit EinsumKernel(std::string equation) : mEquation(std::move(equation)) {}
    std::string tacticName() const override { return mGemm ? "cpu.einsum_batched_gemm" : "cpu.einsum_loop_nest"; }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        std::vector<int64_t> ranks;
        for (const TensorView& in : inputs) ranks.push_back(in.rank());
        KILN_ASSIGN_OR_RETURN(EinsumEquation eq, parseEinsumEquation(mEquation, ranks));
        const size_t labels = static_cast<size_t>(eq.labelCount);
        mExtent.assign(labels, 1);
        for (size_t i = 0; i < inputs.size(); ++i)
            for (size_t a = 0; a < inputs[i].shape.size(); ++a) {
                int64_t d = inputs[i].shape[a];
                int64_t& e = mExtent[static_cast<size_t>(eq.inputs[i][a])];
                if (d != 1) {
                    if (e != 1 && e != d)
                        return invalidArgument("equation '" + mEquation + "': extents " + std::to_string(e) + " and " + std::to_string(d) + " of one label differ");
                    e = d;
                }
            }
        // Loop order: output labels, then the summed ones.
        mOrder = std::vector<size_t>(eq.output.begin(), eq.output.end());
        for (size_t l = 0; l < labels; ++l)
            if (std::find(eq.output.begin(), eq.output.end(), static_cast<int32_t>(l)) == eq.output.end()) mOrder.push_back(l);
        mOutputLoops = eq.output.size();
        mStrides.assign(inputs.size(), std::vector<int64_t>(labels, 0));
        for (size_t i = 0; i < inputs.size(); ++i) {
            int64_t stride = 1;
            for (size_t a = inputs[i].shape.size(); a-- > 0;) {
                if (inputs[i].shape[a] != 1) mStrides[i][static_cast<size_t>(eq.inputs[i][a])] += stride;
                stride *= inputs[i].shape[a];
            }
        }
        Shape expected;
        for (int32_t l : eq.output) expected.push_back(mExtent[static_cast<size_t>(l)]);
        if (outputs[0].shape != expected)
            return internalError("output shape " + shapeToString(outputs[0].shape, true) + " differs from the equation's " + shapeToString(expected, true));
        planGemm(eq, inputs, outputs[0]);
        return Status::ok();
    }

    size_t workspaceSize() const override { return mGemm ? gemmBuffers<char>(nullptr).used : 0; }

    Status run(const KernelIO& io) override {
        return dispatchDataType(io.output(0).dtype, [&](auto tag) -> Status {
            using T = decltype(tag);
            if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
                if (mGemm) {
                    runGemm<T>(io);
                    return Status::ok();
                }
            }
            if constexpr (std::is_same_v<T, bool>) {
                return unsupported("Einsum of bool tensors");
            } else {
                using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
                compute<T, Acc>(io);
                return Status::ok();
            }
        });
    }

private:
    /// The batched-GEMM form of a two-operand equation, when it has one.
    struct GemmPlan {
        int64_t batch{1}, rows{1}, columns{1}, depth{1};
        datamove::StridedCopy packA, packB, unpack;
        size_t elementSize{0};
    };

    template <typename T>
    struct GemmBuffers {
        T* a{nullptr};
        T* b{nullptr};
        T* c{nullptr};
        size_t used{0};
    };
    template <typename T>
    GemmBuffers<T> gemmBuffers(void* base) const {
        cpu::WorkspaceCarver carver(base);
        GemmBuffers<T> buffers;
        const int64_t bytes = static_cast<int64_t>(mGemm->elementSize);
        auto take = [&](int64_t count) { return reinterpret_cast<T*>(carver.take<char>(count * bytes)); };
        buffers.a = take(mGemm->batch * mGemm->rows * mGemm->depth);
        buffers.b = take(mGemm->batch * mGemm->depth * mGemm->columns);
        buffers.c = take(mGemm->batch * mGemm->rows * mGemm->columns);
        buffers.used = carver.used();
        return buffers;
    }

    void planGemm(const EinsumEquation& eq, const std::vector<TensorView>& inputs, const TensorView& output) {
        mGemm.reset();
        if (inputs.size() != 2 || (output.dtype != DataType::kFLOAT && output.dtype != DataType::kDOUBLE)) return;
        const size_t labels = static_cast<size_t>(eq.labelCount);
        // Each label once per operand, at the label's full extent (no diagonal, no broadcast).
        std::vector<std::vector<int64_t>> stride(2, std::vector<int64_t>(labels, -1));
        for (size_t i = 0; i < 2; ++i) {
            int64_t s = 1;
            for (size_t a = inputs[i].shape.size(); a-- > 0;) {
                size_t l = static_cast<size_t>(eq.inputs[i][a]);
                if (stride[i][l] >= 0 || inputs[i].shape[a] != mExtent[l]) return;
                stride[i][l] = s;
                s *= inputs[i].shape[a];
            }
        }
        std::vector<bool> inOutput(labels, false);
        for (int32_t l : eq.output) inOutput[static_cast<size_t>(l)] = true;
        std::vector<size_t> batch, rows, columns, depth;
        for (size_t l = 0; l < labels; ++l) {
            const bool a = stride[0][l] >= 0, b = stride[1][l] >= 0;
            if (a && b) (inOutput[l] ? batch : depth).push_back(l);
            else if (inOutput[l]) (a ? rows : columns).push_back(l);
            else return;  // summed within one operand: the loop nest handles it
        }
        GemmPlan plan;
        plan.elementSize = dataTypeSize(output.dtype);
        auto product = [&](const std::vector<size_t>& group) {
            int64_t p = 1;
            for (size_t l : group) p *= mExtent[l];
            return p;
        };
        plan.batch = product(batch);
        plan.rows = product(rows);
        plan.columns = product(columns);
        plan.depth = product(depth);
        if (plan.batch == 0 || plan.rows == 0 || plan.columns == 0 || plan.depth == 0) return;  // nothing for BLAS to do
        auto pack = [&](size_t operand, std::initializer_list<const std::vector<size_t>*> order) {
            datamove::StridedCopy copy;
            for (const auto* group : order)
                for (size_t l : *group) {
                    copy.extents.push_back(mExtent[l]);
                    copy.srcStrides.push_back(stride[operand][l]);
                }
            copy.simplify();
            return copy;
        };
        plan.packA = pack(0, {&batch, &rows, &depth});
        plan.packB = pack(1, {&batch, &depth, &columns});
        // The product is [batch, rows, columns]: each output label's stride there.
        std::vector<int64_t> cStride(labels, 0);
        int64_t s = 1;
        for (const auto* group : {&columns, &rows, &batch})
            for (auto it = group->rbegin(); it != group->rend(); ++it) {
                cStride[*it] = s;
                s *= mExtent[*it];
            }
        for (int32_t l : eq.output) {
            plan.unpack.extents.push_back(mExtent[static_cast<size_t>(l)]);
            plan.unpack.srcStrides.push_back(cStride[static_cast<size_t>(l)]);
        }
        plan.unpack.simplify();
        mGemm = std::move(plan);
    }

    template <typename T>
    void runGemm(const KernelIO& io) const {
        GemmBuffers<T> buffers = gemmBuffers<T>(io.workspace);
        const GemmPlan& p = *mGemm;
        p.packA.run(io.input(0).data, buffers.a, sizeof(T));
        p.packB.run(io.input(1).data, buffers.b, sizeof(T));
        cpu::GemmShape shape;
        shape.m = p.rows;
        shape.n = p.columns;
        shape.k = p.depth;
        shape.lda = p.depth;
        shape.ldb = p.columns;
        shape.ldc = p.columns;
        for (int64_t t = 0; t < p.batch; ++t)
            cpu::gemmRowMajor(shape, T(1), buffers.a + t * p.rows * p.depth, buffers.b + t * p.depth * p.columns, T(0),
                              buffers.c + t * p.rows * p.columns);
        p.unpack.run(buffers.c, io.output(0).data, sizeof(T));
    }

    template <typename T, typename Acc>
    void compute(const KernelIO& io) const {
        const size_t operands = io.numInputs;
        std::vector<const T*> data(operands);
        for (size_t i = 0; i < operands; ++i) data[i] = io.input(i).as<const T>();
        T* y = io.output(0).as<T>();
        int64_t outputs = 1, inner = 1;
        for (size_t k = 0; k < mOrder.size(); ++k) (k < mOutputLoops ? outputs : inner) *= mExtent[mOrder[k]];
        const size_t loops = mOrder.size();
#pragma omp parallel for schedule(static) if (outputs * inner >= 65536 && outputs > 1)
        for (int64_t o = 0; o < outputs; ++o) {
            std::vector<int64_t> base(operands, 0);
            int64_t rest = o;
            for (size_t k = mOutputLoops; k-- > 0;) {
                size_t l = mOrder[k];
                int64_t idx = rest % mExtent[l];
                rest /= mExtent[l];
                for (size_t i = 0; i < operands; ++i) base[i] += idx * mStrides[i][l];
            }
            std::vector<int64_t> counter(loops, 0), offset = base;
            Acc sum = 0;
            for (int64_t r = 0; r < inner; ++r) {
                Acc product = 1;
                for (size_t i = 0; i < operands; ++i) product *= static_cast<Acc>(data[i][offset[i]]);
                sum += product;
                // Odometer over the summed labels, innermost last.
                for (size_t k = loops; k-- > mOutputLoops;) {
                    size_t l = mOrder[k];
                    if (++counter[k] < mExtent[l]) {
                        for (size_t i = 0; i < operands; ++i) offset[i] += mStrides[i][l];
                        break;
                    }
                    counter[k] = 0;
                    for (size_t i = 0; i < operands; ++i) offset[i] -= (mExtent[l] - 1) * mStrides[i][l];
                }
            }
            if constexpr (std::is_integral_v<T>)
                y[o] = static_cast<T>(sum);
            else
                y[o] = static_cast<T>(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(sum));
        }
    }

    std::string mEquation;
    std::vector<int64_t> mExtent;
    std::vector<size_t> mOrder;
    size_t mOutputLoops{0};
    std::vector<std::vector<int64_t>> mStrides;  // [operand][label]
    std::optional<GemmPlan> mGemm;
};

}  // namespace

void registerEinsumKernels(CpuKernelRegistry& registry) {
    registry.add({"Einsum", nullptr,
                  [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                      auto equation = node.attrs.getString("equation");
                      if (!equation) return invalidModel(node.describe() + ": attribute 'equation' is required");
                      return std::unique_ptr<Kernel>(std::make_unique<EinsumKernel>(*equation));
                  },
                  ""});
}

}  // namespace kiln
