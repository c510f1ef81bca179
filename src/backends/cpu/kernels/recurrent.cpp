// CPU RNN / GRU / LSTM. Per direction: one GEMM projects every time step of X onto the gates
// (X W^T, with the biases folded in), then each step multiplies the previous hidden state by R^T
// (one GEMM over the batch) and applies the gate equations element by element. Batch entries whose
// sequence (sequence_lens) has ended keep their state and write zeros to Y; the reverse direction
// walks each entry's own sequence backwards from its last valid step.

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backends/cpu/kernel_registry.h"
#include "backends/cpu/kernels/kernel_families.h"
#include "backends/cpu/kernels/matmul_gemm.h"
#include "backends/cpu/kernels/recurrent_activation.h"

namespace kiln {

namespace {

using cpu::GateActivation;

enum class CellKind { kRnn, kGru, kLstm };

struct CellConfig {
    CellKind kind{CellKind::kRnn};
    int64_t gates{1};
    bool bidirectional{false};
    bool reverse{false};  // the single direction runs backwards
    int64_t layout{0};
    bool hasClip{false};
    double clip{0.0};
    bool linearBeforeReset{false};  // GRU
    bool inputForget{false};        // LSTM
    size_t activationsPerDirection{1};
    std::vector<GateActivation> activations;  // activationsPerDirection per direction

    int64_t directions() const { return bidirectional ? 2 : 1; }
};

/// Concrete sizes of one run and the index arithmetic of the two layouts.
struct RecurrentDims {
    int64_t seq{0}, batch{0}, input{0}, hidden{0}, directions{1}, layout{0};

    int64_t xRow(int64_t t, int64_t b) const { return layout == 0 ? t * batch + b : b * seq + t; }
    int64_t yOffset(int64_t t, int64_t d, int64_t b) const {
        return (layout == 0 ? (t * directions + d) * batch + b : (b * seq + t) * directions + d) * hidden;
    }
    int64_t stateOffset(int64_t d, int64_t b) const {
        return (layout == 0 ? d * batch + b : b * directions + d) * hidden;
    }
};

template <typename T>
class RecurrentKernel : public Kernel {
public:
    explicit RecurrentKernel(CellConfig config) : mConfig(std::move(config)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        (void)out;
        const Shape& x = in[0].shape;
        const Shape& w = in[1].shape;
        const Shape& r = in[2].shape;
        mDims.layout = mConfig.layout;
        mDims.seq = mConfig.layout == 0 ? x[0] : x[1];
        mDims.batch = mConfig.layout == 0 ? x[1] : x[0];
        mDims.input = x[2];
        mDims.hidden = r[2];
        mDims.directions = mConfig.directions();
        const int64_t gateRows = mConfig.gates * mDims.hidden;
        if (w != Shape{mDims.directions, gateRows, mDims.input} || r != Shape{mDims.directions, gateRows, mDims.hidden})
            return invalidArgument("W " + shapeToString(w, true) + " and R " + shapeToString(r, true) +
                                   " do not fit X " + shapeToString(x, true) + " with hidden size " +
                                   std::to_string(mDims.hidden));
        auto expect = [&](size_t i, const Shape& shape, const char* what) -> Status {
            if (i < in.size() && in[i].data && in[i].shape != shape)
                return invalidArgument(std::string(what) + " has shape " + shapeToString(in[i].shape, true) + ", expected " +
                                       shapeToString(shape, true));
            return Status::ok();
        };
        const Shape state = mConfig.layout == 0 ? Shape{mDims.directions, mDims.batch, mDims.hidden}
                                                : Shape{mDims.batch, mDims.directions, mDims.hidden};
        KILN_RETURN_IF_ERROR(expect(3, {mDims.directions, 2 * gateRows}, "B"));
        KILN_RETURN_IF_ERROR(expect(4, {mDims.batch}, "sequence_lens"));
        KILN_RETURN_IF_ERROR(expect(5, state, "initial_h"));
        KILN_RETURN_IF_ERROR(expect(6, state, "initial_c"));
        KILN_RETURN_IF_ERROR(expect(7, {mDims.directions, 3 * mDims.hidden}, "P"));
        return Status::ok();
    }

    size_t workspaceSize() const override { return carve(nullptr).carver.used(); }

    Status run(const KernelIO& io) override {
        std::vector<int64_t> lengths(static_cast<size_t>(mDims.batch), mDims.seq);
        if (io.hasInput(4)) {
            const TensorView& lens = io.input(4);
            dispatchDataType(lens.dtype, [&](auto tag) {
                using L = decltype(tag);
                if constexpr (std::is_integral_v<L> && !std::is_same_v<L, bool>)
                    for (int64_t b = 0; b < mDims.batch; ++b) lengths[static_cast<size_t>(b)] = static_cast<int64_t>(lens.as<L>()[b]);
            });
            for (int64_t b = 0; b < mDims.batch; ++b)
                if (lengths[static_cast<size_t>(b)] < 0 || lengths[static_cast<size_t>(b)] > mDims.seq)
                    return invalidArgument("sequence_lens[" + std::to_string(b) + "] = " +
                                           std::to_string(lengths[static_cast<size_t>(b)]) + " is outside [0, " +
                                           std::to_string(mDims.seq) + "]");
        }
        T* y = io.numOutputs > 0 ? io.output(0).template as<T>() : nullptr;
        if (y) std::memset(y, 0, io.output(0).byteSize());
        Buffers buffers = carve(io.workspace);
        for (int64_t d = 0; d < mDims.directions; ++d) runDirection(io, d, lengths, buffers, y);
        return Status::ok();
    }

    std::string tacticName() const override {
        const char* op = mConfig.kind == CellKind::kRnn ? "rnn" : mConfig.kind == CellKind::kGru ? "gru" : "lstm";
        return std::string("cpu.") + op + (std::is_same_v<T, double> ? "_gemm_f64" : "_gemm_f32");
    }

private:
    struct Buffers {
        cpu::WorkspaceCarver carver;
        T* projected;  // [seq * batch, gates * hidden]: X W^T + biases, rows in X's order
        T* recurrent;  // [batch, gates * hidden]: H R^T of this step
        T* hidden;     // [batch, hidden]
        T* cell;       // [batch, hidden] (LSTM)
        T* reset;         // [batch, hidden] (GRU): r (.) H
        T* resetProduct;  // [batch, hidden] (GRU): (r (.) H) Rh^T
        T* gates;         // [gates * hidden]: one batch entry's gate values
        T* zeros;         // [3 * hidden]: stands for absent peepholes / recurrent hidden bias
    };

    Buffers carve(void* base) const {
        Buffers b{cpu::WorkspaceCarver(base), nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
        const int64_t gateWidth = mConfig.gates * mDims.hidden;
        b.projected = b.carver.template take<T>(mDims.seq * mDims.batch * gateWidth);
        b.recurrent = b.carver.template take<T>(mDims.batch * gateWidth);
        b.hidden = b.carver.template take<T>(mDims.batch * mDims.hidden);
        b.cell = b.carver.template take<T>(mDims.batch * mDims.hidden);
        b.reset = b.carver.template take<T>(mDims.batch * mDims.hidden);
        b.resetProduct = b.carver.template take<T>(mDims.batch * mDims.hidden);
        b.gates = b.carver.template take<T>(gateWidth);
        b.zeros = b.carver.template take<T>(3 * mDims.hidden);
        return b;
    }

    /// Clips pre-activation gate values to [-clip, clip] when the node asks for it.
    void clip(T* x, int64_t n) const {
        if (!mConfig.hasClip) return;
        const T c = static_cast<T>(mConfig.clip);
        for (int64_t i = 0; i < n; ++i) x[i] = std::fmin(std::fmax(x[i], -c), c);
    }

    /// C = A B^T for row-major A [m, k], B [n, k] and C [m, n] with C's rows `ldc` apart.
    static void gemmTransB(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c, int64_t ldc) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T{0});
            return;
        }
        cpu::GemmShape s{false, true, m, n, k, k, k, ldc};
        cpu::gemmRowMajor(s, T{1}, a, b, T{0}, c);
    }

    void runDirection(const KernelIO& io, int64_t d, const std::vector<int64_t>& lengths, Buffers& buf, T* y) const {
        const int64_t H = mDims.hidden;
        const int64_t G = mConfig.gates;
        const int64_t gateWidth = G * H;
        const int64_t batch = mDims.batch;
        const bool reverse = mConfig.reverse || d == 1;
        const T* w = io.input(1).template as<T>() + d * gateWidth * mDims.input;
        const T* r = io.input(2).template as<T>() + d * gateWidth * H;
        const T* bias = io.hasInput(3) ? io.input(3).template as<T>() + d * 2 * gateWidth : nullptr;
        const T* peephole = io.hasInput(7) ? io.input(7).template as<T>() + d * 3 * H : nullptr;
        const GateActivation* act = mConfig.activations.data() + static_cast<size_t>(d) * mConfig.activationsPerDirection;

        // Projection of every step at once; for GRU the hidden gate's recurrent bias Rbh stays out
        // (it is added inside the reset product or to it, depending on linear_before_reset).
        gemmTransB(mDims.seq * batch, gateWidth, mDims.input, io.input(0).template as<T>(), w, buf.projected, gateWidth);
        if (bias) {
            const int64_t foldedWidth = mConfig.kind == CellKind::kGru ? 2 * H : gateWidth;
            for (int64_t row = 0; row < mDims.seq * batch; ++row) {
                T* p = buf.projected + row * gateWidth;
                for (int64_t j = 0; j < gateWidth; ++j) p[j] += bias[j] + (j < foldedWidth ? bias[gateWidth + j] : T{0});
            }
        }
        const T* recurrentHiddenBias = bias && mConfig.kind == CellKind::kGru ? bias + gateWidth + 2 * H : nullptr;

        for (int64_t b = 0; b < batch; ++b) {
            T* h = buf.hidden + b * H;
            T* c = buf.cell + b * H;
            if (io.hasInput(5)) std::memcpy(h, io.input(5).template as<T>() + mDims.stateOffset(d, b), sizeof(T) * H);
            else std::fill(h, h + H, T{0});
            if (io.hasInput(6)) std::memcpy(c, io.input(6).template as<T>() + mDims.stateOffset(d, b), sizeof(T) * H);
            else std::fill(c, c + H, T{0});
        }

        // Absent peepholes and recurrent hidden bias read as zeros, which keeps the gate loops
        // free of branches.
        std::fill(buf.zeros, buf.zeros + 3 * H, T{0});
        const T* peep = peephole ? peephole : buf.zeros;
        const T* rbh = recurrentHiddenBias ? recurrentHiddenBias : buf.zeros;
        const bool gruResetFirst = mConfig.kind == CellKind::kGru && !mConfig.linearBeforeReset;
        T* g = buf.gates;
        for (int64_t step = 0; step < mDims.seq; ++step) {
            // GRU without linear_before_reset needs r before the hidden gate's recurrent product.
            gemmTransB(batch, gruResetFirst ? 2 * H : gateWidth, H, buf.hidden, r, buf.recurrent, gateWidth);
            if (gruResetFirst) {
                for (int64_t b = 0; b < batch; ++b) {
                    if (step >= lengths[static_cast<size_t>(b)]) continue;
                    const int64_t t = reverse ? lengths[static_cast<size_t>(b)] - 1 - step : step;
                    const T* p = buf.projected + mDims.xRow(t, b) * gateWidth + H;
                    const T* hr = buf.recurrent + b * gateWidth + H;
                    for (int64_t j = 0; j < H; ++j) g[j] = p[j] + hr[j];
                    clip(g, H);
                    act[0].apply(g, H);
                    const T* h = buf.hidden + b * H;
                    T* reset = buf.reset + b * H;
                    for (int64_t j = 0; j < H; ++j) reset[j] = g[j] * h[j];
                }
                gemmTransB(batch, H, H, buf.reset, r + 2 * H * H, buf.resetProduct, H);
            }
            for (int64_t b = 0; b < batch; ++b) {
                if (step >= lengths[static_cast<size_t>(b)]) continue;
                const int64_t t = reverse ? lengths[static_cast<size_t>(b)] - 1 - step : step;
                const T* p = buf.projected + mDims.xRow(t, b) * gateWidth;
                const T* hr = buf.recurrent + b * gateWidth;
                T* h = buf.hidden + b * H;
                T* c = buf.cell + b * H;
                switch (mConfig.kind) {
                    case CellKind::kRnn:
                        for (int64_t j = 0; j < H; ++j) h[j] = p[j] + hr[j];
                        clip(h, H);
                        act[0].apply(h, H);
                        break;
                    case CellKind::kGru: {
                        // g: z, then the candidate (and r when linear_before_reset).
                        T* z = g;
                        T* candidate = g + H;
                        for (int64_t j = 0; j < H; ++j) z[j] = p[j] + hr[j];
                        if (mConfig.linearBeforeReset) {
                            T* reset = g + 2 * H;
                            for (int64_t j = 0; j < H; ++j) reset[j] = p[H + j] + hr[H + j];
                            clip(reset, H);
                            act[0].apply(reset, H);
                            for (int64_t j = 0; j < H; ++j) candidate[j] = p[2 * H + j] + reset[j] * (hr[2 * H + j] + rbh[j]);
                        } else {
                            const T* product = buf.resetProduct + b * H;
                            for (int64_t j = 0; j < H; ++j) candidate[j] = p[2 * H + j] + product[j] + rbh[j];
                        }
                        clip(z, H);
                        act[0].apply(z, H);
                        clip(candidate, H);
                        act[1].apply(candidate, H);
                        for (int64_t j = 0; j < H; ++j) h[j] = (T{1} - z[j]) * candidate[j] + z[j] * h[j];
                        break;
                    }
                    case CellKind::kLstm: {
                        // g: input, output, forget and cell gates (W's order); peepholes are i, o, f.
                        T* in = g;
                        T* out = g + H;
                        T* forget = g + 2 * H;
                        T* cell = g + 3 * H;
                        for (int64_t j = 0; j < H; ++j) {
                            in[j] = p[j] + hr[j] + peep[j] * c[j];
                            forget[j] = p[2 * H + j] + hr[2 * H + j] + peep[2 * H + j] * c[j];
                            cell[j] = p[3 * H + j] + hr[3 * H + j];
                        }
                        clip(in, H);
                        act[0].apply(in, H);
                        if (mConfig.inputForget) {
                            for (int64_t j = 0; j < H; ++j) forget[j] = T{1} - in[j];
                        } else {
                            clip(forget, H);
                            act[0].apply(forget, H);
                        }
                        clip(cell, H);
                        act[1].apply(cell, H);
                        for (int64_t j = 0; j < H; ++j) c[j] = forget[j] * c[j] + in[j] * cell[j];
                        for (int64_t j = 0; j < H; ++j) out[j] = p[H + j] + hr[H + j] + peep[H + j] * c[j];
                        clip(out, H);
                        act[0].apply(out, H);
                        std::copy(c, c + H, cell);
                        act[2].apply(cell, H);
                        for (int64_t j = 0; j < H; ++j) h[j] = out[j] * cell[j];
                        break;
                    }
                }
                if (y) std::memcpy(y + mDims.yOffset(t, d, b), h, sizeof(T) * H);
            }
        }
        for (int64_t b = 0; b < batch; ++b) {
            if (io.numOutputs > 1 && io.output(1).data)
                std::memcpy(io.output(1).template as<T>() + mDims.stateOffset(d, b), buf.hidden + b * H, sizeof(T) * H);
            if (io.numOutputs > 2 && io.output(2).data)
                std::memcpy(io.output(2).template as<T>() + mDims.stateOffset(d, b), buf.cell + b * H, sizeof(T) * H);
        }
    }

    CellConfig mConfig;
    RecurrentDims mDims;
};

/// float16 / bfloat16 layers compute in float: the inputs are widened into the workspace, the
/// float kernel runs on them, and the outputs are rounded back.
template <typename S>
class WidenedRecurrentKernel : public Kernel {
public:
    explicit WidenedRecurrentKernel(CellConfig config) : mInner(std::move(config)) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        mInputs = widened(in);
        mOutputs = widened(out);
        return mInner.reshape(mInputs, mOutputs);
    }

    size_t workspaceSize() const override { return carve(nullptr).used(); }

    Status run(const KernelIO& io) override {
        cpu::WorkspaceCarver buffers(static_cast<unsigned char*>(io.workspace) + alignedInnerBytes());
        std::vector<TensorView> in = mInputs, out = mOutputs;
        for (size_t i = 0; i < in.size(); ++i) {
            if (!io.hasInput(i)) {
                in[i].data = nullptr;
            } else if (isWidened(i)) {
                float* f = buffers.template take<float>(in[i].elementCount());
                cpu::toFloat(io.input(i).template as<S>(), f, in[i].elementCount());
                in[i].data = f;
            } else {
                in[i].data = io.input(i).data;
            }
        }
        for (size_t i = 0; i < out.size(); ++i)
            out[i].data = io.output(i).data ? buffers.template take<float>(out[i].elementCount()) : nullptr;
        KernelIO inner = io;
        inner.inputs = in.data();
        inner.outputs = out.data();
        inner.workspace = io.workspace;
        inner.workspaceBytes = mInner.workspaceSize();
        KILN_RETURN_IF_ERROR(mInner.run(inner));
        for (size_t i = 0; i < out.size(); ++i)
            if (out[i].data) cpu::fromFloat(out[i].template as<float>(), io.output(i).template as<S>(), out[i].elementCount());
        return Status::ok();
    }

    std::string tacticName() const override { return mInner.tacticName() + "_widened"; }

private:
    /// Input 4 (sequence_lens) is an integer tensor and passes through; the rest are S.
    static bool isWidened(size_t input) { return input != 4; }

    static std::vector<TensorView> widened(const std::vector<TensorView>& views) {
        std::vector<TensorView> out = views;
        for (TensorView& v : out)
            if (v.dtype == DataTypeOf<S>::value) v.dtype = DataType::kFLOAT;
        return out;
    }

    size_t alignedInnerBytes() const { return (mInner.workspaceSize() + 63) / 64 * 64; }

    /// The float kernel's workspace, then one float buffer per present widened input and output.
    cpu::WorkspaceCarver carve(void* base) const {
        cpu::WorkspaceCarver carver(base);
        carver.template take<unsigned char>(static_cast<int64_t>(alignedInnerBytes()));
        for (size_t i = 0; i < mInputs.size(); ++i)
            if (isWidened(i)) carver.template take<float>(mInputs[i].elementCount());
        for (const TensorView& v : mOutputs) carver.template take<float>(v.elementCount());
        return carver;
    }

    RecurrentKernel<float> mInner;
    std::vector<TensorView> mInputs, mOutputs;  // float views at the shapes of the last reshape
};

Expected<CellConfig> configOf(const Node& node, CellKind kind) {
    CellConfig config;
    config.kind = kind;
    std::vector<std::string> defaults;
    switch (kind) {
        case CellKind::kRnn:
            config.gates = 1;
            defaults = {"Tanh"};
            break;
        case CellKind::kGru:
            config.gates = 3;
            defaults = {"Sigmoid", "Tanh"};
            break;
        case CellKind::kLstm:
            config.gates = 4;
            defaults = {"Sigmoid", "Tanh", "Tanh"};
            break;
    }
    const AttributeMap& attrs = node.attrs;
    const std::string direction = attrs.getString("direction", "forward");
    config.bidirectional = direction == "bidirectional";
    config.reverse = direction == "reverse";
    config.layout = attrs.getInt("layout", 0);
    if (auto clip = attrs.getFloat("clip")) {
        config.hasClip = true;
        config.clip = *clip;
    }
    config.linearBeforeReset = attrs.getInt("linear_before_reset", 0) != 0;
    config.inputForget = attrs.getInt("input_forget", 0) != 0;
    config.activationsPerDirection = defaults.size();
    auto activations =
        cpu::parseGateActivations(attrs.getStrings("activations"), defaults, static_cast<size_t>(config.directions()),
                                  attrs.getFloats("activation_alpha").value_or(std::vector<float>{}),
                                  attrs.getFloats("activation_beta").value_or(std::vector<float>{}));
    if (!activations) return Status(activations.status().code(), node.describe() + ": " + activations.status().message());
    config.activations = std::move(activations).value();
    return config;
}

bool supportsRecurrent(const Node& node, std::string* reason) {
    if (!inputTypeIsOneOf(node, 0, {DataType::kFLOAT, DataType::kDOUBLE, DataType::kHALF, DataType::kBF16}, reason))
        return false;
    if (node.hasInput(4) && !isIntegerType(node.input(4)->dtype)) {
        if (reason) *reason = "sequence_lens must be an integer tensor";
        return false;
    }
    return true;
}

CpuKernelEntry recurrentEntry(const char* opType, CellKind kind) {
    return {opType, supportsRecurrent, [kind](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                KILN_ASSIGN_OR_RETURN(CellConfig config, configOf(node, kind));
                const DataType type = node.input(0)->dtype;
                if (type == DataType::kDOUBLE) return std::unique_ptr<Kernel>(new RecurrentKernel<double>(std::move(config)));
                if (type == DataType::kHALF) return std::unique_ptr<Kernel>(new WidenedRecurrentKernel<Half>(std::move(config)));
                if (type == DataType::kBF16)
                    return std::unique_ptr<Kernel>(new WidenedRecurrentKernel<BFloat16>(std::move(config)));
                return std::unique_ptr<Kernel>(new RecurrentKernel<float>(std::move(config)));
            },
            ""};
}

}  // namespace

void registerRecurrentKernels(CpuKernelRegistry& registry) {
    registry.add(recurrentEntry("RNN", CellKind::kRnn));
    registry.add(recurrentEntry("GRU", CellKind::kGru));
    registry.add(recurrentEntry("LSTM", CellKind::kLstm));
}

}  // namespace kiln
