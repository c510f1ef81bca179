// The signal ops on float, float16 and double: DFT and STFT as direct sums (one thread per output bin,
// O(n) work each, accumulated in double with twiddles from sincospi, as the CPU backend's double sums;
// cuFFT is not linked), MelWeightMatrix and the cosine-sum windows HannWindow HammingWindow
// BlackmanWindow as generators. DFT's axis and dft_length and STFT's frame_step and frame_length decide
// the launch geometry: taken from the graph's constants or the values known before the run, else read
// back on the run's stream (a synchronization, which keeps that run out of a CUDA graph). The
// generators read their scalar inputs on the device.

#include <cuda_fp16.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_kernel_registry.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/kernels/device_utils.cuh"
#include "backends/cuda/kernels/index_values.h"
#include "backends/cuda/kernels/kernel_families.h"

namespace kiln::cuda {

namespace {

__device__ __forceinline__ double loadReal(float v) { return v; }
__device__ __forceinline__ double loadReal(double v) { return v; }
__device__ __forceinline__ double loadReal(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T storeReal(double v) {
    return static_cast<T>(v);
}
template <>
__device__ __forceinline__ __half storeReal<__half>(double v) {
    return __double2half(v);
}

/// Element types of scalar inputs read on the device.
enum class ScalarType : int { kInt32, kInt64, kFloat, kHalf, kDouble };

Expected<ScalarType> scalarTypeOf(DataType type, const std::string& what) {
    switch (type) {
        case DataType::kINT32: return ScalarType::kInt32;
        case DataType::kINT64: return ScalarType::kInt64;
        case DataType::kFLOAT: return ScalarType::kFloat;
        case DataType::kHALF: return ScalarType::kHalf;
        case DataType::kDOUBLE: return ScalarType::kDouble;
        default: return invalidArgument(what + " has type " + dataTypeName(type) + "; expected an integer or float scalar");
    }
}

__device__ __forceinline__ double readScalar(const void* p, ScalarType type) {
    switch (type) {
        case ScalarType::kInt32: return *static_cast<const int32_t*>(p);
        case ScalarType::kInt64: return static_cast<double>(*static_cast<const int64_t*>(p));
        case ScalarType::kFloat: return *static_cast<const float*>(p);
        case ScalarType::kHalf: return __half2float(*static_cast<const __half*>(p));
        default: return *static_cast<const double*>(p);
    }
}

Status launchFor(DataType type, const std::string& name, const auto& launch) {
    switch (type) {
        case DataType::kFLOAT: launch(float{}); break;
        case DataType::kHALF: launch(__half{}); break;
        case DataType::kDOUBLE: launch(double{}); break;
        default: return unsupported(name + ": no CUDA kernel for " + dataTypeName(type));
    }
    return Status::ok();
}

bool isFloatType(DataType type) {
    return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kDOUBLE;
}

// ---------------------------------------------------------------------------------------------------
// DFT

struct DftGeometry {
    int64_t outer{0}, inLength{0}, inner{0}, inComponents{1};
    int64_t outLength{0}, outComponents{2};
    int64_t n{0};  // the transform length (dft_length)
    bool inverse{false}, onesided{false};
};

/// One output element (o, f, i) per thread: sum over the n samples of the signal (zero-padded, or for
/// the inverse of a one-sided spectrum completed by Hermitian symmetry) times the twiddles.
template <typename T>
__global__ void dftKernel(const T* x, T* y, DftGeometry g) {
    const int64_t total = g.outer * g.outLength * g.inner;
    const int64_t samples = g.inLength < g.n ? g.inLength : g.n;
    const double sign = g.inverse ? 1.0 : -1.0;
    const bool complexIn = g.inComponents == 2;
    const bool hermitian = g.inverse && g.onesided;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t i = index % g.inner;
        const int64_t f = (index / g.inner) % g.outLength;
        const int64_t o = index / (g.inner * g.outLength);
        const T* line = x + (o * g.inLength * g.inner + i) * g.inComponents;
        const int64_t sampleStride = g.inner * g.inComponents;
        double sr = 0, si = 0;
        for (int64_t k = 0; k < g.n; ++k) {
            double re = 0, im = 0;
            if (k < samples) {
                re = loadReal(line[k * sampleStride]);
                im = complexIn ? loadReal(line[k * sampleStride + 1]) : 0.0;
                // An inverse real transform ignores the imaginary parts of the DC and Nyquist terms.
                if (hermitian && (k == 0 || (g.n % 2 == 0 && k == g.n / 2))) im = 0;
            } else if (hermitian && g.n - k < samples) {
                const int64_t mirror = g.n - k;
                re = loadReal(line[mirror * sampleStride]);
                im = complexIn ? -loadReal(line[mirror * sampleStride + 1]) : 0.0;
            } else {
                continue;
            }
            double s, c;
            sincospi(sign * 2.0 * static_cast<double>((f * k) % g.n) / static_cast<double>(g.n), &s, &c);
            sr += re * c - im * s;
            si += re * s + im * c;
        }
        if (g.inverse) {
            sr /= static_cast<double>(g.n);
            si /= static_cast<double>(g.n);
        }
        T* out = y + ((o * g.outLength + f) * g.inner + i) * g.outComponents;
        out[0] = storeReal<T>(sr);
        if (g.outComponents == 2) out[1] = storeReal<T>(si);
    }
}

class DftKernel : public Kernel {
public:
    explicit DftKernel(const Node& node)
        : mName(node.describe()),
          mType(node.input(0)->dtype),
          mLengthInput(node.input(1)),
          mAxisInput(node.input(2)) {
        mGeometry.inverse = node.attrs.getInt("inverse", 0) != 0;
        mGeometry.onesided = node.attrs.getInt("onesided", 0) != 0;
    }

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        mResolved = false;
        mReadsDevice = !mLengthInput.knownBeforeRun(inputs.size() > 1 ? inputs[1] : TensorView{}) ||
                       !mAxisInput.knownBeforeRun(inputs.size() > 2 ? inputs[2] : TensorView{});
        if (!mReadsDevice) return plan(inputs, nullptr);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mResolved) {
            std::vector<TensorView> inputs(io.inputs, io.inputs + io.numInputs);
            KILN_RETURN_IF_ERROR(plan(inputs, stream));
            mResolved = false;  // values computed during the run may differ next time
        }
        const int64_t total = mGeometry.outer * mGeometry.outLength * mGeometry.inner;
        if (total == 0) return Status::ok();
        KILN_RETURN_IF_ERROR(launchFor(mType, mName, [&](auto tag) {
            using T = decltype(tag);
            dftKernel<T><<<elementwiseGrid(total), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<T*>(io.output(0).data), mGeometry);
        }));
        return launchStatus("dftKernel");
    }

    std::string tacticName() const override { return std::string("cuda.dft_direct_") + tacticTypeSuffix(mType); }

    bool isCapturable(std::string* reason) const override {
        if (!mReadsDevice) return true;
        if (reason) *reason = "its axis or dft_length is computed during the run and read back to the host";
        return false;
    }

private:
    Status plan(const std::vector<TensorView>& inputs, cudaStream_t stream) {
        const TensorView none{};
        const TensorView& lengthView = inputs.size() > 1 ? inputs[1] : none;
        const TensorView& axisView = inputs.size() > 2 ? inputs[2] : none;
        const int64_t rank = static_cast<int64_t>(mInShape.size());
        int64_t axisValue = -2;
        if (mAxisInput.present()) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> axis, mAxisInput.read(axisView, stream, mName + " axis"));
            if (axis.size() != 1) return invalidArgument(mName + ": axis must hold one value");
            axisValue = axis[0];
        }
        auto axis = normalizeAxis(axisValue, rank);
        if (rank < 2 || !axis || *axis == rank - 1)
            return invalidArgument(mName + ": axis " + std::to_string(axisValue) + " does not name a signal axis of rank " +
                                   std::to_string(rank));
        const size_t a = static_cast<size_t>(*axis);
        DftGeometry& g = mGeometry;
        g.inLength = mInShape[a];
        g.n = g.inverse && g.onesided ? 2 * (g.inLength - 1) : g.inLength;
        if (mLengthInput.present()) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> length, mLengthInput.read(lengthView, stream, mName + " dft_length"));
            if (length.size() != 1) return invalidArgument(mName + ": dft_length must hold one value");
            g.n = length[0];
        }
        if (g.n < 1) return invalidArgument(mName + ": the DFT length " + std::to_string(g.n) + " must be positive");
        g.inComponents = mInShape.back();
        g.outComponents = mOutShape.back();
        if ((g.inComponents != 1 && g.inComponents != 2) || (g.outComponents != 1 && g.outComponents != 2) ||
            mOutShape.size() != mInShape.size())
            return invalidArgument(mName + ": input " + shapeToString(mInShape, true) + " and output " +
                                   shapeToString(mOutShape, true) + " must end in 1 (real) or 2 (complex) components");
        g.outer = shapeElementCount(Shape(mInShape.begin(), mInShape.begin() + static_cast<std::ptrdiff_t>(a)));
        g.inner = shapeElementCount(Shape(mInShape.begin() + static_cast<std::ptrdiff_t>(a) + 1, mInShape.end() - 1));
        g.outLength = mOutShape[a];
        for (size_t d = 0; d + 1 < mInShape.size(); ++d)
            if (d != a && mOutShape[d] != mInShape[d])
                return invalidArgument(mName + ": output " + shapeToString(mOutShape, true) + " does not fit input " +
                                       shapeToString(mInShape, true));
        if (g.outLength > g.n)
            return invalidArgument(mName + ": the output has " + std::to_string(g.outLength) + " bins for a DFT of length " +
                                   std::to_string(g.n));
        mResolved = true;
        return Status::ok();
    }

    std::string mName;
    DataType mType;
    IndexInput mLengthInput, mAxisInput;
    Shape mInShape, mOutShape;
    DftGeometry mGeometry;
    bool mResolved{false};
    bool mReadsDevice{false};
};

// ---------------------------------------------------------------------------------------------------
// STFT

struct StftGeometry {
    int64_t batch{0}, length{0}, components{1};
    int64_t step{0}, frameLength{0}, frames{0}, bins{0};
};

template <typename T>
__global__ void stftKernel(const T* x, const T* window, T* y, StftGeometry g) {
    const int64_t total = g.batch * g.frames * g.bins;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t k = index % g.bins;
        const int64_t f = (index / g.bins) % g.frames;
        const int64_t b = index / (g.bins * g.frames);
        double sr = 0, si = 0;
        for (int64_t n = 0; n < g.frameLength; ++n) {
            const int64_t at = (b * g.length + f * g.step + n) * g.components;
            const double w = window ? loadReal(window[n]) : 1.0;
            const double re = loadReal(x[at]) * w;
            const double im = g.components == 2 ? loadReal(x[at + 1]) * w : 0.0;
            double s, c;
            sincospi(-2.0 * static_cast<double>((k * n) % g.frameLength) / static_cast<double>(g.frameLength), &s, &c);
            sr += re * c - im * s;
            si += re * s + im * c;
        }
        y[index * 2] = storeReal<T>(sr);
        y[index * 2 + 1] = storeReal<T>(si);
    }
}

class StftKernel : public Kernel {
public:
    explicit StftKernel(const Node& node)
        : mName(node.describe()),
          mType(node.input(0)->dtype),
          mOnesided(node.attrs.getInt("onesided", 1) != 0),
          mStepInput(node.input(1)),
          mLengthInput(node.input(3)) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        mInShape = inputs[0].shape;
        mOutShape = outputs[0].shape;
        mWindowCount = inputs.size() > 2 && inputs[2].data ? inputs[2].elementCount() : -1;
        mResolved = false;
        mReadsDevice = !mStepInput.knownBeforeRun(inputs[1]) ||
                       !mLengthInput.knownBeforeRun(inputs.size() > 3 ? inputs[3] : TensorView{});
        if (!mReadsDevice) return plan(inputs, nullptr);
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        auto stream = static_cast<cudaStream_t>(io.stream);
        if (!mResolved) {
            std::vector<TensorView> inputs(io.inputs, io.inputs + io.numInputs);
            KILN_RETURN_IF_ERROR(plan(inputs, stream));
            mResolved = false;
        }
        const int64_t total = mGeometry.batch * mGeometry.frames * mGeometry.bins;
        if (total == 0) return Status::ok();
        const void* window = io.hasInput(2) ? io.input(2).data : nullptr;
        KILN_RETURN_IF_ERROR(launchFor(mType, mName, [&](auto tag) {
            using T = decltype(tag);
            stftKernel<T><<<elementwiseGrid(total), kElementwiseBlock, 0, stream>>>(
                static_cast<const T*>(io.input(0).data), static_cast<const T*>(window), static_cast<T*>(io.output(0).data),
                mGeometry);
        }));
        return launchStatus("stftKernel");
    }

    std::string tacticName() const override { return std::string("cuda.stft_direct_") + tacticTypeSuffix(mType); }

    bool isCapturable(std::string* reason) const override {
        if (!mReadsDevice) return true;
        if (reason) *reason = "its frame_step or frame_length is computed during the run and read back to the host";
        return false;
    }

private:
    Status plan(const std::vector<TensorView>& inputs, cudaStream_t stream) {
        StftGeometry& g = mGeometry;
        if (mInShape.size() != 3 || (mInShape[2] != 1 && mInShape[2] != 2))
            return invalidArgument(mName + ": the signal must be [batch, length, 1 or 2], not " + shapeToString(mInShape, true));
        g.batch = mInShape[0];
        g.length = mInShape[1];
        g.components = mInShape[2];
        KILN_ASSIGN_OR_RETURN(std::vector<int64_t> step, mStepInput.read(inputs[1], stream, mName + " frame_step"));
        if (step.size() != 1 || step[0] < 1) return invalidArgument(mName + ": frame_step must be one positive value");
        g.step = step[0];
        g.frameLength = mWindowCount >= 0 ? mWindowCount : g.length;
        if (mLengthInput.present()) {
            KILN_ASSIGN_OR_RETURN(std::vector<int64_t> length,
                                  mLengthInput.read(inputs.size() > 3 ? inputs[3] : TensorView{}, stream, mName + " frame_length"));
            if (length.size() != 1) return invalidArgument(mName + ": frame_length must hold one value");
            g.frameLength = length[0];
        }
        if (mWindowCount >= 0 && mWindowCount != g.frameLength)
            return invalidArgument(mName + ": the window has " + std::to_string(mWindowCount) + " entries for frames of " +
                                   std::to_string(g.frameLength));
        if (g.frameLength < 1 || g.frameLength > g.length)
            return invalidArgument(mName + ": frame_length " + std::to_string(g.frameLength) + " is outside [1, " +
                                   std::to_string(g.length) + "]");
        g.frames = 1 + (g.length - g.frameLength) / g.step;
        g.bins = mOnesided ? g.frameLength / 2 + 1 : g.frameLength;
        if (mOutShape != Shape{g.batch, g.frames, g.bins, 2})
            return invalidArgument(mName + ": output " + shapeToString(mOutShape, true) + " does not match " +
                                   std::to_string(g.frames) + " frames of " + std::to_string(g.bins) + " bins");
        mResolved = true;
        return Status::ok();
    }

    std::string mName;
    DataType mType;
    bool mOnesided;
    IndexInput mStepInput, mLengthInput;
    Shape mInShape, mOutShape;
    int64_t mWindowCount{-1};
    StftGeometry mGeometry;
    bool mResolved{false};
    bool mReadsDevice{false};
};

// ---------------------------------------------------------------------------------------------------
// Windows and MelWeightMatrix

enum class WindowKind : int { kHann, kHamming, kBlackman };

template <typename T>
__global__ void windowKernel(T* y, int64_t size, WindowKind kind, bool periodic) {
    const double n = static_cast<double>(periodic ? size : size - 1);
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
        // cospi(2 t / n) is cos(2 pi t / n) without rounding 2 pi first.
        const double t = static_cast<double>(i) / n;
        double w = 0;
        switch (kind) {
            case WindowKind::kHann: {
                const double s = sinpi(t);
                w = s * s;
                break;
            }
            case WindowKind::kHamming: w = 25.0 / 46.0 - cospi(2 * t) * (21.0 / 46.0); break;
            case WindowKind::kBlackman: w = 0.42 - 0.5 * cospi(2 * t) + 0.08 * cospi(4 * t); break;
        }
        y[i] = storeReal<T>(w);
    }
}

class WindowKernel : public Kernel {
public:
    WindowKernel(const Node& node, WindowKind kind)
        : mName(node.describe()), mType(node.outputs[0]->dtype), mKind(kind),
          mPeriodic(node.attrs.getInt("periodic", 1) != 0) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (outputs[0].rank() != 1) return invalidArgument(mName + ": the window must be 1-D");
        mSize = outputs[0].elementCount();
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        if (mSize == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        KILN_RETURN_IF_ERROR(launchFor(mType, mName, [&](auto tag) {
            using T = decltype(tag);
            windowKernel<T><<<elementwiseGrid(mSize), kElementwiseBlock, 0, stream>>>(static_cast<T*>(io.output(0).data),
                                                                                      mSize, mKind, mPeriodic);
        }));
        return launchStatus("windowKernel");
    }

    std::string tacticName() const override { return std::string("cuda.window_") + tacticTypeSuffix(mType); }

private:
    std::string mName;
    DataType mType;
    WindowKind mKind;
    bool mPeriodic;
    int64_t mSize{0};
};

struct MelInputs {
    const void* melBins;
    const void* dftLength;
    const void* sampleRate;
    const void* lower;
    const void* upper;
    ScalarType melBinsType, dftLengthType, sampleRateType, lowerType, upperType;
};

/// The frequency bin of mel edge `i`, by the CPU kernel's arithmetic (ONNX's reference: float mel
/// values, a step of the range over num_mel_bins + 2, a floor of the bin position).
__device__ __forceinline__ int64_t melEdge(int64_t i, float lowMel, double step, int64_t dftLength, int64_t sampleRate) {
    const double mel = static_cast<double>(i) * step + static_cast<double>(lowMel);
    const double hertz = 700.0 * expm1(mel / 2595.0 * log(10.0));
    return static_cast<int64_t>(floor(static_cast<double>(dftLength + 1) * hertz / static_cast<double>(sampleRate)));
}

/// One matrix entry (spectrogram bin j, mel bin i) per thread: the triangle of mel bin i, rising from
/// edge i to edge i + 1 and falling to edge i + 2 (the falling side wins at the peak).
template <typename T>
__global__ void melKernel(T* y, int64_t rows, int64_t columns, MelInputs in) {
    const int64_t melBins = static_cast<int64_t>(readScalar(in.melBins, in.melBinsType));
    const int64_t dftLength = static_cast<int64_t>(readScalar(in.dftLength, in.dftLengthType));
    const int64_t sampleRate = static_cast<int64_t>(readScalar(in.sampleRate, in.sampleRateType));
    const float lower = static_cast<float>(readScalar(in.lower, in.lowerType));
    const float upper = static_cast<float>(readScalar(in.upper, in.upperType));
    const float lowMel = 2595.0f * log1pf(lower / 700.0f) / logf(10.0f);
    const float highMel = 2595.0f * log1pf(upper / 700.0f) / logf(10.0f);
    const double step = static_cast<double>((highMel - lowMel) / static_cast<float>(melBins + 2));
    const int64_t total = rows * columns;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < total; index += stride) {
        const int64_t j = index / columns, i = index % columns;
        double v = 0;
        if (sampleRate > 0) {
            const int64_t left = melEdge(i, lowMel, step, dftLength, sampleRate);
            const int64_t center = melEdge(i + 1, lowMel, step, dftLength, sampleRate);
            const int64_t right = melEdge(i + 2, lowMel, step, dftLength, sampleRate);
            if (center == left) {
                if (j == center) v = 1.0;
            } else if (j >= left && j <= center) {
                v = static_cast<double>(j - left) / static_cast<double>(center - left);
            }
            if (j >= center && j < right) v = static_cast<double>(right - j) / static_cast<double>(right - center);
        }
        y[index] = storeReal<T>(v);
    }
}

class MelWeightMatrixKernel : public Kernel {
public:
    explicit MelWeightMatrixKernel(const Node& node) : mName(node.describe()), mType(node.outputs[0]->dtype) {}

    Status reshape(const std::vector<TensorView>& inputs, const std::vector<TensorView>& outputs) override {
        if (outputs[0].rank() != 2) return invalidArgument(mName + ": the output must be 2-D");
        for (size_t i = 0; i < 5; ++i)
            if (inputs[i].elementCount() != 1)
                return invalidArgument(mName + ": input " + std::to_string(i) + " must be a scalar");
        // With the values known before the run, check what the device cannot report.
        if (inputs[2].hostData && inputs[2].dtype == DataType::kINT64 && *static_cast<const int64_t*>(inputs[2].hostData) <= 0)
            return invalidArgument(mName + ": sample_rate must be positive");
        mRows = outputs[0].shape[0];
        mColumns = outputs[0].shape[1];
        return Status::ok();
    }

    Status run(const KernelIO& io) override {
        const int64_t total = mRows * mColumns;
        if (total == 0) return Status::ok();
        auto stream = static_cast<cudaStream_t>(io.stream);
        MelInputs in{};
        const void** pointers[] = {&in.melBins, &in.dftLength, &in.sampleRate, &in.lower, &in.upper};
        ScalarType* types[] = {&in.melBinsType, &in.dftLengthType, &in.sampleRateType, &in.lowerType, &in.upperType};
        static const char* const kNames[] = {"num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz",
                                             "upper_edge_hertz"};
        for (size_t i = 0; i < 5; ++i) {
            *pointers[i] = io.input(i).data;
            KILN_ASSIGN_OR_RETURN(*types[i], scalarTypeOf(io.input(i).dtype, mName + " " + kNames[i]));
        }
        KILN_RETURN_IF_ERROR(launchFor(mType, mName, [&](auto tag) {
            using T = decltype(tag);
            melKernel<T><<<elementwiseGrid(total), kElementwiseBlock, 0, stream>>>(static_cast<T*>(io.output(0).data),
                                                                                   mRows, mColumns, in);
        }));
        return launchStatus("melKernel");
    }

    std::string tacticName() const override { return std::string("cuda.mel_weight_matrix_") + tacticTypeSuffix(mType); }

private:
    std::string mName;
    DataType mType;
    int64_t mRows{0}, mColumns{0};
};

bool outputIsFloat(const Node& node, std::string* reason) {
    if (!node.outputs.empty() && node.outputs[0] && isFloatType(node.outputs[0]->dtype)) return true;
    if (reason)
        *reason = node.opType + " has a CUDA kernel for float, float16 and double outputs, not " +
                  (node.outputs.empty() || !node.outputs[0] ? std::string("none") : dataTypeName(node.outputs[0]->dtype));
    return false;
}

bool isIndexValue(const Value* v) {
    return !v || v->dtype == DataType::kINT32 || v->dtype == DataType::kINT64;
}

bool dftSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}, reason)) return false;
    if (!isIndexValue(node.input(1)) || !isIndexValue(node.input(2))) {
        if (reason) *reason = "DFT's dft_length and axis must be int32 or int64";
        return false;
    }
    return true;
}

bool stftSupported(const Node& node, std::string* reason) {
    if (!inputsHaveType(node, 0, 1, {DataType::kFLOAT, DataType::kHALF, DataType::kDOUBLE}, reason)) return false;
    if (node.input(2) && node.input(2)->dtype != node.input(0)->dtype) {
        if (reason) *reason = "STFT's window must have the signal's type";
        return false;
    }
    if (!node.input(1) || !isIndexValue(node.input(1)) || !isIndexValue(node.input(3))) {
        if (reason) *reason = "STFT's frame_step and frame_length must be int32 or int64";
        return false;
    }
    return true;
}

template <typename K, typename... Args>
Expected<std::unique_ptr<Kernel>> make(Args&&... args) {
    return std::unique_ptr<Kernel>(std::make_unique<K>(std::forward<Args>(args)...));
}

}  // namespace

void registerSignalKernels(CudaKernelRegistry& registry) {
    registry.add({"DFT", dftSupported, [](const Node& node, const CudaContext&) { return make<DftKernel>(node); }});
    registry.add({"STFT", stftSupported, [](const Node& node, const CudaContext&) { return make<StftKernel>(node); }});
    registry.add({"MelWeightMatrix", outputIsFloat,
                  [](const Node& node, const CudaContext&) { return make<MelWeightMatrixKernel>(node); }});
    for (auto [op, kind] : {std::pair{"HannWindow", WindowKind::kHann}, std::pair{"HammingWindow", WindowKind::kHamming},
                            std::pair{"BlackmanWindow", WindowKind::kBlackman}}) {
        const WindowKind k = kind;
        registry.add({op, outputIsFloat,
                      [k](const Node& node, const CudaContext&) { return make<WindowKernel>(node, k); }});
    }
}

}  // namespace kiln::cuda
