// Plugins for the tests, written against the public header only, as an application's would be, and
// built as a shared library that the tests load (IPluginRegistry::loadLibrary, --staticPlugins).
//
//  - FlattenConcat v1 (SSD's layer, after TensorRT's sample): every input is flattened from `axis` on
//    and the results are concatenated there: [d0..d(axis-1), sum of each input's trailing product].
//    Any element type (it moves bytes), the same for all inputs; on the CPU and, where built with
//    CUDA, on the GPU (one strided copy per input).
//  - ScaleShift v1 (y = scale * x) and v2 (y = scale * x + shift), float32 on the CPU: two versions
//    of one name, for the registry's version selection.

#include <cstring>
#include <string>
#include <vector>

#include "kiln/plugin.h"

#ifdef KILN_SAMPLE_PLUGINS_CUDA
#include <cuda_runtime.h>
#endif

namespace {

using kiln::DataType;
using kiln::Dims;
using kiln::PluginFieldCollection;
using kiln::PluginTensorDesc;

bool fail(std::string* error, const std::string& message) {
    if (error) *error = message;
    return false;
}

class FlattenConcatRuntime final : public kiln::IPluginRuntime {
public:
    explicit FlattenConcatRuntime(int64_t axis) : mAxis(axis) {}

    int32_t getNbOutputs() const noexcept override { return 1; }

    bool getOutputDataTypes(const DataType* in, int32_t nbInputs, DataType* out, std::string* error) const
        noexcept override {
        if (nbInputs < 1) return fail(error, "FlattenConcat needs at least one input");
        for (int32_t i = 1; i < nbInputs; ++i)
            if (in[i] != in[0]) return fail(error, "FlattenConcat's inputs must have one element type");
        out[0] = in[0];
        return true;
    }

    bool getOutputShapes(const Dims* in, int32_t nbInputs, Dims* out, std::string* error) const noexcept override {
        if (nbInputs < 1) return fail(error, "FlattenConcat needs at least one input");
        Dims result;
        result.nbDims = static_cast<int32_t>(mAxis) + 1;
        int64_t total = 0;
        for (int32_t i = 0; i < nbInputs; ++i) {
            if (in[i].nbDims < mAxis)
                return fail(error, "input " + std::to_string(i) + " has rank " + std::to_string(in[i].nbDims) +
                                       ", below axis " + std::to_string(mAxis));
            for (int32_t d = 0; d < mAxis; ++d) {
                // Leading extents must agree; one unknown at build time takes the other's value.
                const int64_t have = i == 0 ? -1 : result.d[d], next = in[i].d[d];
                if (have >= 0 && next >= 0 && have != next)
                    return fail(error, "inputs disagree in dimension " + std::to_string(d));
                result.d[d] = have >= 0 ? have : next;
            }
            int64_t product = 1;
            for (int32_t d = static_cast<int32_t>(mAxis); d < in[i].nbDims && product >= 0; ++d)
                product = in[i].d[d] < 0 ? -1 : product * in[i].d[d];
            total = (total < 0 || product < 0) ? -1 : total + product;
        }
        result.d[mAxis] = total;
        out[0] = result;
        return true;
    }

    int32_t enqueue(const char* backend, const PluginTensorDesc* inDesc, int32_t nbInputs,
                    const PluginTensorDesc* outDesc, int32_t, const void* const* inputs, void* const* outputs, void*,
                    kiln::Stream stream, std::string* error) noexcept override {
        const size_t element = kiln::dataTypeSize(outDesc[0].type);
        int64_t outer = 1;
        for (int32_t d = 0; d < mAxis; ++d) outer *= outDesc[0].dims.d[d];
        const size_t rowBytes = static_cast<size_t>(outDesc[0].dims.d[mAxis]) * element;
        size_t offset = 0;
        for (int32_t i = 0; i < nbInputs; ++i) {
            int64_t inner = 1;
            for (int32_t d = static_cast<int32_t>(mAxis); d < inDesc[i].dims.nbDims; ++d) inner *= inDesc[i].dims.d[d];
            const size_t bytes = static_cast<size_t>(inner) * element;
            auto* dst = static_cast<char*>(outputs[0]) + offset;
            const auto* src = static_cast<const char*>(inputs[i]);
            if (std::strcmp(backend, "cpu") == 0) {
                for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * rowBytes, src + o * bytes, bytes);
#ifdef KILN_SAMPLE_PLUGINS_CUDA
            } else if (std::strcmp(backend, "cuda") == 0) {
                cudaError_t status = cudaMemcpy2DAsync(dst, rowBytes, src, bytes, bytes, static_cast<size_t>(outer),
                                                       cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream));
                if (status != cudaSuccess) {
                    if (error) *error = cudaGetErrorString(status);
                    return 1;
                }
#endif
            } else {
                if (error) *error = std::string("FlattenConcat does not run on the ") + backend + " backend";
                return 1;
            }
            offset += bytes;
        }
        (void)stream;
        return 0;
    }

private:
    int64_t mAxis;
};

class FlattenConcatBuild final : public kiln::IPluginBuild {
public:
    explicit FlattenConcatBuild(int64_t axis) : mAxis(axis) {}

    bool supportsFormatCombination(const char* backend, const DataType* in, int32_t nbInputs, const DataType* out,
                                   int32_t nbOutputs) const noexcept override {
        bool onBackend = std::strcmp(backend, "cpu") == 0;
#ifdef KILN_SAMPLE_PLUGINS_CUDA
        onBackend = onBackend || std::strcmp(backend, "cuda") == 0;
#endif
        if (!onBackend || nbOutputs != 1 || (out[0] != DataType::kFLOAT && out[0] != DataType::kHALF)) return false;
        for (int32_t i = 0; i < nbInputs; ++i)
            if (in[i] != out[0]) return false;
        return true;
    }

    PluginFieldCollection getFieldsToSerialize() const noexcept override {
        return PluginFieldCollection().setInt("axis", mAxis);
    }

private:
    int64_t mAxis;
};

/// The axis field: default 1, at least 1 (the dimensions before it are kept), at most 7.
bool readAxis(const PluginFieldCollection& fields, int64_t& axis, std::string* error) {
    axis = fields.getInt("axis").value_or(1);
    if (fields.has("axis") && !fields.getInt("axis")) return fail(error, "FlattenConcat's field 'axis' must be an int");
    if (axis < 1 || axis >= kiln::kMaxDims)
        return fail(error, "FlattenConcat's axis must be in [1, " + std::to_string(kiln::kMaxDims - 1) + "], got " +
                               std::to_string(axis));
    return true;
}

class FlattenConcatCreator final : public kiln::IPluginCreator {
public:
    const char* getPluginName() const noexcept override { return "FlattenConcat"; }
    const char* getPluginVersion() const noexcept override { return "1"; }

    std::unique_ptr<kiln::IPluginBuild> createBuildPart(const PluginFieldCollection& fields,
                                                        std::string* error) noexcept override {
        int64_t axis = 0;
        if (!readAxis(fields, axis, error)) return nullptr;
        return std::make_unique<FlattenConcatBuild>(axis);
    }

    std::unique_ptr<kiln::IPluginRuntime> createRuntimePart(const PluginFieldCollection& fields,
                                                            std::string* error) noexcept override {
        int64_t axis = 0;
        if (!readAxis(fields, axis, error)) return nullptr;
        return std::make_unique<FlattenConcatRuntime>(axis);
    }
};

class ScaleShiftRuntime final : public kiln::IPluginRuntime {
public:
    ScaleShiftRuntime(float scale, float shift) : mScale(scale), mShift(shift) {}

    int32_t getNbOutputs() const noexcept override { return 1; }

    bool getOutputDataTypes(const DataType* in, int32_t nbInputs, DataType* out, std::string* error) const
        noexcept override {
        if (nbInputs != 1) return fail(error, "ScaleShift has one input");
        out[0] = in[0];
        return true;
    }

    bool getOutputShapes(const Dims* in, int32_t nbInputs, Dims* out, std::string* error) const noexcept override {
        if (nbInputs != 1) return fail(error, "ScaleShift has one input");
        out[0] = in[0];
        return true;
    }

    int32_t enqueue(const char* backend, const PluginTensorDesc* inDesc, int32_t, const PluginTensorDesc*, int32_t,
                    const void* const* inputs, void* const* outputs, void*, kiln::Stream, std::string* error) noexcept
        override {
        if (std::strcmp(backend, "cpu") != 0) {
            if (error) *error = "ScaleShift runs on the CPU only";
            return 1;
        }
        int64_t n = 1;
        for (int32_t d = 0; d < inDesc[0].dims.nbDims; ++d) n *= inDesc[0].dims.d[d];
        const auto* x = static_cast<const float*>(inputs[0]);
        auto* y = static_cast<float*>(outputs[0]);
        for (int64_t i = 0; i < n; ++i) y[i] = mScale * x[i] + mShift;
        return 0;
    }

private:
    float mScale, mShift;
};

class ScaleShiftBuild final : public kiln::IPluginBuild {
public:
    ScaleShiftBuild(float scale, float shift, bool withShift) : mScale(scale), mShift(shift), mWithShift(withShift) {}

    bool supportsFormatCombination(const char* backend, const DataType* in, int32_t, const DataType* out,
                                   int32_t) const noexcept override {
        return std::strcmp(backend, "cpu") == 0 && in[0] == DataType::kFLOAT && out[0] == DataType::kFLOAT;
    }

    PluginFieldCollection getFieldsToSerialize() const noexcept override {
        PluginFieldCollection fields;
        fields.setFloat("scale", mScale);
        if (mWithShift) fields.setFloat("shift", mShift);
        return fields;
    }

private:
    float mScale, mShift;
    bool mWithShift;
};

/// ScaleShift v1 reads `scale`; v2 reads `scale` and `shift`. `scale` is required.
template <bool kWithShift>
class ScaleShiftCreator final : public kiln::IPluginCreator {
public:
    const char* getPluginName() const noexcept override { return "ScaleShift"; }
    const char* getPluginVersion() const noexcept override { return kWithShift ? "2" : "1"; }

    std::unique_ptr<kiln::IPluginBuild> createBuildPart(const PluginFieldCollection& fields,
                                                        std::string* error) noexcept override {
        float scale = 0.f, shift = 0.f;
        if (!read(fields, scale, shift, error)) return nullptr;
        return std::make_unique<ScaleShiftBuild>(scale, shift, kWithShift);
    }

    std::unique_ptr<kiln::IPluginRuntime> createRuntimePart(const PluginFieldCollection& fields,
                                                            std::string* error) noexcept override {
        float scale = 0.f, shift = 0.f;
        if (!read(fields, scale, shift, error)) return nullptr;
        return std::make_unique<ScaleShiftRuntime>(scale, shift);
    }

private:
    static bool read(const PluginFieldCollection& fields, float& scale, float& shift, std::string* error) {
        std::optional<float> s = fields.getFloat("scale");
        if (!s) return fail(error, "ScaleShift needs the float field 'scale'");
        scale = *s;
        shift = kWithShift ? fields.getFloat("shift").value_or(0.f) : 0.f;
        return true;
    }
};

}  // namespace

KILN_REGISTER_PLUGIN(FlattenConcatCreator);
KILN_REGISTER_PLUGIN(ScaleShiftCreator<false>);
KILN_REGISTER_PLUGIN(ScaleShiftCreator<true>);
