// RNN, GRU and LSTM on float, float16 and double: every direction, layout, clip, activation list,
// GRU's linear_before_reset, LSTM's peepholes and input_forget, sequence_lens and initial states, with
// the CPU kernel's equations (backends/cpu/kernels/recurrent.cpp). A direction walks the steps in order;
// each step is two or three launches on the stream:
//  1. gate pre-activations, one thread per (batch entry, gate row): the dot products of the step's X row
//     with W's row and of the hidden state with R's row, plus both biases (GRU keeps the hidden gate's
//     recurrent part, without its bias Rbh, apart: it is scaled by the reset gate);
//  2. GRU without linear_before_reset only: Rh (r (.) H), which needs every unit's reset gate first;
//  3. the cell, one thread per (batch entry, hidden unit): activations, the new state (each thread
//     reads and writes only its own unit, so the state is updated in place) and its row of Y.
// Sums and states are float (double for double layers), float16 layers computing in float like the
// CPU backend. sequence_lens is read on the device: an entry whose sequence has ended keeps its state
// and leaves zeros in Y; the reverse direction walks each entry's own sequence backwards. Lengths
// outside [0, seq_length] are clamped into it (the device cannot report them).

#include <cuda_fp16.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/kernel_families.h"
#include "backends/cuda/kernels/recurrent_config.h"

namespace kiln::cuda {

namespace {

template <typename T>
using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename A>
__device__ __forceinline__ A load(float v) {
    return static_cast<A>(v);
}
template <typename A>
__device__ __forceinline__ A load(double v) {
    return static_cast<A>(v);
}
template <typename A>
__device__ __forceinline__ A load(__half v) {
    return static_cast<A>(__half2float(v));
}

template <typename T, typename A>
__device__ __forceinline__ T store(A v) {
    if constexpr (std::is_same_v<T, __half>)
        return __float2half_rn(static_cast<float>(v));
    else
        return static_cast<T>(v);
}

template <typename A>
__device__ __forceinline__ A applyGate(const GateSpec& g, A x) {
    const A a = static_cast<A>(g.alpha);
    const A b = static_cast<A>(g.beta);
    switch (g.function) {
        case GateFn::kRelu: return x > A(0) ? x : A(0);
        case GateFn::kTanh: return tanh(x);
        case GateFn::kSigmoid: {
            // exp of a non-positive number only: no overflow for large |x|.
            const A e = exp(-fabs(x));
            const A r = A(1) / (A(1) + e);
            return x >= A(0) ? r : e * r;
        }
        case GateFn::kAffine: return a * x + b;
        case GateFn::kLeakyRelu: return x >= A(0) ? x : a * x;
        case GateFn::kThresholdedRelu: return x >= a ? x : A(0);
        case GateFn::kScaledTanh: return a * tanh(b * x);
        case GateFn::kHardSigmoid: return fmax(A(0), fmin(A(1), a * x + b));
        case GateFn::kElu: return x >= A(0) ? x : a * (exp(x) - A(1));
        case GateFn::kSoftsign: return x / (A(1) + fabs(x));
        case GateFn::kSoftplus: return log1p(exp(-fabs(x))) + fmax(x, A(0));
    }
    return x;
}

/// Sizes of one run and the index arithmetic of the two layouts (as RecurrentDims on the CPU).
struct Dims {
    int64_t seq{0}, batch{0}, input{0}, hidden{0}, directions{1}, layout{0}, gates{1};

    __device__ int64_t xRow(int64_t t, int64_t b) const { return layout == 0 ? t * batch + b : b * seq + t; }
    __device__ int64_t yOffset(int64_t t, int64_t d, int64_t b) const {
        return (layout == 0 ? (t * directions + d) * batch + b : (b * seq + t) * directions + d) * hidden;
    }
    __device__ int64_t stateOffset(int64_t d, int64_t b) const {
        return (layout == 0 ? d * batch + b : b * directions + d) * hidden;
    }
};

/// What every launch of one direction needs.
template <typename T>
struct Step {
    const T* x;
    const T* w;        // this direction's [gates * hidden, input]
    const T* r;        // this direction's [gates * hidden, hidden]
    const T* bias;     // this direction's [2 * gates * hidden], or null
    const T* peephole; // this direction's [3 * hidden], or null
    const void* lengths;  // [batch] int32 or int64, or null
    bool lengths64;
    bool reverse;
    int64_t direction;
    int64_t step;
    Dims dims;
    RecurrentConfig config;
};

/// The entry's sequence length and the time index of `step` in it, or -1 once its sequence has ended.
template <typename T>
__device__ __forceinline__ int64_t timeOf(const Step<T>& s, int64_t b) {
    int64_t length = s.dims.seq;
    if (s.lengths)
        length = s.lengths64 ? static_cast<const int64_t*>(s.lengths)[b]
                             : static_cast<int64_t>(static_cast<const int32_t*>(s.lengths)[b]);
    length = length < 0 ? 0 : (length > s.dims.seq ? s.dims.seq : length);
    if (s.step >= length) return -1;
    return s.reverse ? length - 1 - s.step : s.step;
}

template <typename A>
__device__ __forceinline__ A clipped(const RecurrentConfig& c, A x) {
    if (!c.hasClip) return x;
    const A limit = static_cast<A>(c.clip);
    return fmin(fmax(x, -limit), limit);
}

template <typename T, typename A>
__global__ void initStateKernel(const T* initialH, const T* initialC, A* h, A* c, Dims dims, int64_t direction) {
    const int64_t total = dims.batch * dims.hidden;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t b = index / dims.hidden, j = index % dims.hidden;
        const int64_t at = dims.stateOffset(direction, b) + j;
        h[index] = initialH ? load<A>(initialH[at]) : A(0);
        c[index] = initialC ? load<A>(initialC[at]) : A(0);
    }
}

/// Launch 1: gates[b, row] = X_t W[row] + Wb[row] + (H R[row] + Rb[row]); for GRU's hidden gate rows the
/// recurrent part H Rh[row] goes to `hiddenPart` instead (computed only with linear_before_reset).
template <typename T, typename A>
__global__ void gatePreactivationKernel(Step<T> s, const A* h, A* gates, A* hiddenPart) {
    const Dims& d = s.dims;
    const int64_t width = d.gates * d.hidden;
    const int64_t total = d.batch * width;
    const bool gru = s.config.cell == RecurrentCell::kGru;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t b = index / width, row = index % width;
        const int64_t t = timeOf(s, b);
        if (t < 0) continue;
        const T* xRow = s.x + d.xRow(t, b) * d.input;
        const T* wRow = s.w + row * d.input;
        A fromInput = s.bias ? load<A>(s.bias[row]) : A(0);
        for (int64_t i = 0; i < d.input; ++i) fromInput += load<A>(xRow[i]) * load<A>(wRow[i]);
        const bool gruHidden = gru && row >= 2 * d.hidden;
        if (gruHidden && !s.config.linearBeforeReset) {
            gates[index] = fromInput;
            continue;
        }
        const T* rRow = s.r + row * d.hidden;
        const A* hRow = h + b * d.hidden;
        A fromState = 0;
        for (int64_t k = 0; k < d.hidden; ++k) fromState += hRow[k] * load<A>(rRow[k]);
        if (gruHidden) {
            gates[index] = fromInput;
            hiddenPart[b * d.hidden + row - 2 * d.hidden] = fromState;
        } else {
            gates[index] = fromInput + fromState + (s.bias ? load<A>(s.bias[width + row]) : A(0));
        }
    }
}

/// Launch 2 (GRU without linear_before_reset): hiddenPart[b, j] = sum_k Rh[j, k] r_k h_k, with the reset
/// gate r = f(clip(gates[b, H + k])) recomputed per term (cheaper than another launch and buffer).
template <typename T, typename A>
__global__ void gruResetProductKernel(Step<T> s, const A* h, const A* gates, A* hiddenPart) {
    const Dims& d = s.dims;
    const int64_t width = d.gates * d.hidden;
    const int64_t total = d.batch * d.hidden;
    const GateSpec f = s.config.activations[s.direction][0];
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t b = index / d.hidden, j = index % d.hidden;
        if (timeOf(s, b) < 0) continue;
        const T* rRow = s.r + (2 * d.hidden + j) * d.hidden;
        const A* g = gates + b * width + d.hidden;
        const A* hRow = h + b * d.hidden;
        A sum = 0;
        for (int64_t k = 0; k < d.hidden; ++k) sum += load<A>(rRow[k]) * (applyGate(f, clipped(s.config, g[k])) * hRow[k]);
        hiddenPart[index] = sum;
    }
}

/// Launch 3: the cell equations for unit (b, j), the state updated in place, Y's row written.
template <typename T, typename A>
__global__ void cellKernel(Step<T> s, A* h, A* c, const A* gates, const A* hiddenPart, T* y) {
    const Dims& d = s.dims;
    const int64_t H = d.hidden;
    const int64_t width = d.gates * H;
    const int64_t total = d.batch * H;
    const RecurrentConfig& cfg = s.config;
    const GateSpec* act = cfg.activations[s.direction];
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t b = index / H, j = index % H;
        const int64_t t = timeOf(s, b);
        if (t < 0) continue;
        const A* g = gates + b * width;
        A hNew = 0;
        switch (cfg.cell) {
            case RecurrentCell::kRnn: hNew = applyGate(act[0], clipped(cfg, g[j])); break;
            case RecurrentCell::kGru: {
                const A rbh = s.bias ? load<A>(s.bias[width + 2 * H + j]) : A(0);
                A candidate;
                if (cfg.linearBeforeReset) {
                    const A reset = applyGate(act[0], clipped(cfg, g[H + j]));
                    candidate = g[2 * H + j] + reset * (hiddenPart[index] + rbh);
                } else {
                    candidate = g[2 * H + j] + hiddenPart[index] + rbh;
                }
                const A z = applyGate(act[0], clipped(cfg, g[j]));
                candidate = applyGate(act[1], clipped(cfg, candidate));
                hNew = (A(1) - z) * candidate + z * h[index];
                break;
            }
            case RecurrentCell::kLstm: {
                // W's order: input, output, forget, cell; the peepholes are input, output, forget.
                const A cPrev = c[index];
                const A pi = s.peephole ? load<A>(s.peephole[j]) : A(0);
                const A po = s.peephole ? load<A>(s.peephole[H + j]) : A(0);
                const A pf = s.peephole ? load<A>(s.peephole[2 * H + j]) : A(0);
                const A in = applyGate(act[0], clipped(cfg, g[j] + pi * cPrev));
                const A forget =
                    cfg.inputForget ? A(1) - in : applyGate(act[0], clipped(cfg, g[2 * H + j] + pf * cPrev));
                const A cell = applyGate(act[1], clipped(cfg, g[3 * H + j]));
                const A cNew = forget * cPrev + in * cell;
                const A out = applyGate(act[0], clipped(cfg, g[H + j] + po * cNew));
                c[index] = cNew;
                hNew = out * applyGate(act[2], cNew);
                break;
            }
        }
        h[index] = hNew;
        if (y) y[d.yOffset(t, s.direction, b) + j] = store<T>(hNew);
    }
}

template <typename T, typename A>
__global__ void finalStateKernel(const A* h, const A* c, T* yH, T* yC, Dims dims, int64_t direction) {
    const int64_t total = dims.batch * dims.hidden;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t b = index / dims.hidden, j = index % dims.hidden;
        const int64_t at = dims.stateOffset(direction, b) + j;
        if (yH) yH[at] = store<T>(h[index]);
        if (yC) yC[at] = store<T>(c[index]);
    }
}

size_t alignUp(size_t bytes) { return (bytes + 255) / 256 * 256; }

class RecurrentKernel : public Kernel {
public:
    RecurrentKernel(const Node& node, RecurrentConfig config)
        : mName(node.describe()), mType(node.input(0)->dtype), mConfig(config) {}

    Status reshape(const std::vector<TensorView>& in, const std::vector<TensorView>& out) override {
        const Shape& x = in[0].shape;
        const Shape& w = in[1].shape;
        const Shape& r = in[2].shape;
        if (x.size() != 3 || w.size() != 3 || r.size() != 3)
            return invalidArgument(mName + ": X, W and R must be 3-D");
        Dims& d = mDims;
        d.layout = mConfig.layout;
        d.seq = d.layout == 0 ? x[0] : x[1];
        d.batch = d.layout == 0 ? x[1] : x[0];
        d.input = x[2];
        d.hidden = r[2];
        d.directions = mConfig.directions();
        d.gates = mConfig.gates;
        const int64_t rows = d.gates * d.hidden;
        if (w != Shape{d.directions, rows, d.input} || r != Shape{d.directions, rows, d.hidden})
            return invalidArgument(mName + ": W " + shapeToString(w, true) + " and R " + shapeToString(r, true) +
                                   " do not fit X " + shapeToString(x, true) + " with hidden size " +
                                   std::to_string(d.hidden));
        auto expect = [&](const std::vector<TensorView>& views, size_t i, const Shape& shape, const char* what) -> Status {
            if (i < views.size() && views[i].data && views[i].shape != shape)
                return invalidArgument(mName + ": " + what + " has shape " + shapeToString(views[i].shape, true) +
                                       ", expected " + shapeToString(shape, true));
            return Status::ok();
        };
        const Shape state = d.layout == 0 ? Shape{d.directions, d.batch, d.hidden} : Shape{d.batch, d.directions, d.hidden};
        const Shape y = d.layout == 0 ? Shape{d.seq, d.directions, d.batch, d.hidden}
                                      : Shape{d.batch, d.seq, d.directions, d.hidden};
        KILN_RETURN_IF_ERROR(expect(in, 3, {d.directions, 2 * rows}, "B"));
        KILN_RETURN_IF_ERROR(expect(in, 4, {d.batch}, "sequence_lens"));
        KILN_RETURN_IF_ERROR(expect(in, 5, state, "initial_h"));
        KILN_RETURN_IF_ERROR(expect(in, 6, state, "initial_c"));
        KILN_RETURN_IF_ERROR(expect(in, 7, {d.directions, 3 * d.hidden}, "P"));
        KILN_RETURN_IF_ERROR(expect(out, 0, y, "Y"));
        KILN_RETURN_IF_ERROR(expect(out, 1, state, "Y_h"));
        KILN_RETURN_IF_ERROR(expect(out, 2, state, "Y_c"));
        if (in.size() > 4 && in[4].data && in[4].dtype != DataType::kINT32 && in[4].dtype != DataType::kINT64)
            return invalidArgument(mName + ": sequence_lens must be int32 or int64");
        return Status::ok();
    }

    /// Gates [batch, gates * hidden], the GRU hidden gate's recurrent part, h and c [batch, hidden].
    size_t workspaceSize() const override {
        const size_t acc = mType == DataType::kDOUBLE ? sizeof(double) : sizeof(float);
        const size_t gates = static_cast<size_t>(mDims.batch * mDims.gates * mDims.hidden) * acc;
        const size_t state = static_cast<size_t>(mDims.batch * mDims.hidden) * acc;
        return alignUp(gates) + 3 * alignUp(state);
    }

    Status run(const KernelIO& io) override {
        switch (mType) {
            case DataType::kFLOAT: return runAs<float>(io);
            case DataType::kHALF: return runAs<__half>(io);
            case DataType::kDOUBLE: return runAs<double>(io);
            default: return unsupported(mName + ": no CUDA kernel for " + dataTypeName(mType));
        }
    }

    std::string tacticName() const override {
        const char* op = mConfig.cell == RecurrentCell::kRnn ? "rnn" : mConfig.cell == RecurrentCell::kGru ? "gru" : "lstm";
        return std::string("cuda.") + op + "_stepwise_" + tacticTypeSuffix(mType);
    }

private:
    template <typename T>
    Status runAs(const KernelIO& io) {
        using A = Acc<T>;
        auto stream = static_cast<cudaStream_t>(io.stream);
        const Dims& d = mDims;
        T* y = io.numOutputs > 0 ? static_cast<T*>(io.output(0).data) : nullptr;
        T* yH = io.numOutputs > 1 ? static_cast<T*>(io.output(1).data) : nullptr;
        T* yC = io.numOutputs > 2 ? static_cast<T*>(io.output(2).data) : nullptr;
        if (y && io.output(0).byteSize() > 0)
            KILN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(y, 0, io.output(0).byteSize(), stream));
        const int64_t units = d.batch * d.hidden;
        if (units == 0) return Status::ok();

        auto* base = static_cast<unsigned char*>(io.workspace);
        A* gates = reinterpret_cast<A*>(base);
        base += alignUp(static_cast<size_t>(d.batch * d.gates * d.hidden) * sizeof(A));
        A* hiddenPart = reinterpret_cast<A*>(base);
        A* h = reinterpret_cast<A*>(base + alignUp(static_cast<size_t>(units) * sizeof(A)));
        A* c = reinterpret_cast<A*>(base + 2 * alignUp(static_cast<size_t>(units) * sizeof(A)));

        auto input = [&](size_t i) { return io.hasInput(i) ? static_cast<const T*>(io.input(i).data) : nullptr; };
        const int64_t rows = d.gates * d.hidden;
        const bool gruResetFirst = mConfig.cell == RecurrentCell::kGru && !mConfig.linearBeforeReset;
        for (int64_t dir = 0; dir < d.directions; ++dir) {
            Step<T> s{};
            s.x = input(0);
            s.w = input(1) + dir * rows * d.input;
            s.r = input(2) + dir * rows * d.hidden;
            s.bias = input(3) ? input(3) + dir * 2 * rows : nullptr;
            s.peephole = input(7) ? input(7) + dir * 3 * d.hidden : nullptr;
            s.lengths = io.hasInput(4) ? io.input(4).data : nullptr;
            s.lengths64 = io.hasInput(4) && io.input(4).dtype == DataType::kINT64;
            s.reverse = mConfig.reverse || dir == 1;
            s.direction = dir;
            s.dims = d;
            s.config = mConfig;
            initStateKernel<T, A><<<elementwiseGrid(units), kElementwiseBlock, 0, stream>>>(input(5), input(6), h, c, d, dir);
            KILN_RETURN_IF_ERROR(launchStatus("initStateKernel"));
            for (int64_t step = 0; step < d.seq; ++step) {
                s.step = step;
                gatePreactivationKernel<T, A>
                    <<<elementwiseGrid(d.batch * rows), kElementwiseBlock, 0, stream>>>(s, h, gates, hiddenPart);
                KILN_RETURN_IF_ERROR(launchStatus("gatePreactivationKernel"));
                if (gruResetFirst) {
                    gruResetProductKernel<T, A>
                        <<<elementwiseGrid(units), kElementwiseBlock, 0, stream>>>(s, h, gates, hiddenPart);
                    KILN_RETURN_IF_ERROR(launchStatus("gruResetProductKernel"));
                }
                cellKernel<T, A><<<elementwiseGrid(units), kElementwiseBlock, 0, stream>>>(s, h, c, gates, hiddenPart, y);
                KILN_RETURN_IF_ERROR(launchStatus("cellKernel"));
            }
            if (yH || yC) {
                finalStateKernel<T, A><<<elementwiseGrid(units), kElementwiseBlock, 0, stream>>>(h, c, yH, yC, d, dir);
                KILN_RETURN_IF_ERROR(launchStatus("finalStateKernel"));
            }
        }
        return Status::ok();
    }

    std::string mName;
    DataType mType;
    RecurrentConfig mConfig;
    Dims mDims;
};

bool recurrentSupported(const Node& node, std::string* reason) {
    // X W R B, then initial_h initial_c P after sequence_lens.
    if (!inputsHaveType(node, 0, 4, {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}, reason)) return false;
    for (size_t i = 5; i < node.inputs.size(); ++i) {
        const Value* v = node.input(i);
        if (v && v->dtype != node.input(0)->dtype) {
            if (reason) *reason = "input " + std::to_string(i) + " must have X's type " + dataTypeName(node.input(0)->dtype);
            return false;
        }
    }
    const Value* lengths = node.input(4);
    if (lengths && lengths->dtype != DataType::kINT32 && lengths->dtype != DataType::kINT64) {
        if (reason) *reason = "sequence_lens must be int32 or int64";
        return false;
    }
    if (!node.input(1) || !node.input(2)) {
        if (reason) *reason = node.opType + " needs W and R";
        return false;
    }
    return true;
}

CudaKernelEntry recurrentEntry(const char* opType, RecurrentCell cell) {
    return {opType, recurrentSupported, [cell](const Node& node, const CudaContext&) -> Expected<std::unique_ptr<Kernel>> {
                KILN_ASSIGN_OR_RETURN(RecurrentConfig config, recurrentConfigOf(node, cell));
                return std::unique_ptr<Kernel>(std::make_unique<RecurrentKernel>(node, config));
            }};
}

}  // namespace

void registerRecurrentKernels(CudaKernelRegistry& registry) {
    registry.add(recurrentEntry("RNN", RecurrentCell::kRnn));
    registry.add(recurrentEntry("GRU", RecurrentCell::kGru));
    registry.add(recurrentEntry("LSTM", RecurrentCell::kLstm));
}

}  // namespace kiln::cuda
