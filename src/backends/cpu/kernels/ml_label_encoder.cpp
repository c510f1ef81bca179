// ai.onnx.ml LabelEncoder: each element of X looked up in the keys, replaced by the value at the
// key's position, or by the default when absent. Keys are matched by value: strings byte for byte,
// integers exactly, floats as doubles (so 0.0 matches -0.0; a NaN key matches nothing).

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

#include "backends/cpu/kernels/string_kernels.h"
#include "ir/ops/label_encoder_spec.h"

namespace kiln::cpu {

namespace {

class LabelEncoderKernel final : public Kernel {
public:
    explicit LabelEncoderKernel(LabelEncoderSpec spec) : mSpec(std::move(spec)) {
        const int64_t n = mSpec.keys.elementCount();
        // A repeated key maps to its last value, as ONNX's reference (a dict of the pairs) does.
        if (mSpec.keyType == DataType::kSTRING) {
            std::vector<std::string_view> keys = mSpec.keys.strings();
            for (int64_t i = 0; i < n; ++i) mStringKeys[keys[static_cast<size_t>(i)]] = i;
        } else if (isIntegerType(mSpec.keyType)) {
            std::vector<int64_t> keys = mSpec.keys.toInt64Vector();
            for (int64_t i = 0; i < n; ++i) mIntKeys[keys[static_cast<size_t>(i)]] = i;
        } else {
            std::vector<double> keys = mSpec.keys.toDoubleVector();
            for (int64_t i = 0; i < n; ++i)
                if (!std::isnan(keys[static_cast<size_t>(i)])) mFloatKeys[keys[static_cast<size_t>(i)]] = i;
        }
    }

    Status run(const KernelIO& io) override {
        const TensorView& x = io.input(0);
        const TensorView& y = io.output(0);
        const size_t width = dataTypeSize(y.dtype);
        const auto* values = static_cast<const uint8_t*>(mSpec.values.data());
        auto* out = static_cast<uint8_t*>(y.data);
        // Values are copied as whole elements; string values are views into the kernel's own
        // table, which lives as long as the execution context.
        for (int64_t i = 0; i < x.elementCount(); ++i) {
            int64_t index = find(x, i);
            const void* source = index < 0 ? mSpec.defaultValue.data() : values + static_cast<size_t>(index) * width;
            std::memcpy(out + static_cast<size_t>(i) * width, source, width);
        }
        return Status::ok();
    }

    std::string tacticName() const override { return "cpu.label_encoder"; }

private:
    int64_t find(const TensorView& x, int64_t i) const {
        if (mSpec.keyType == DataType::kSTRING) {
            auto it = mStringKeys.find(asStringView(stringsOf(x)[i]));
            return it == mStringKeys.end() ? -1 : it->second;
        }
        return dispatchDataType(x.dtype, [&](auto tag) -> int64_t {
            using T = decltype(tag);
            const T value = x.as<const T>()[i];
            if constexpr (std::is_integral_v<T>) {
                auto it = mIntKeys.find(static_cast<int64_t>(value));
                return it == mIntKeys.end() ? -1 : it->second;
            } else {
                const double key = static_cast<double>(value);
                if (std::isnan(key)) return -1;
                auto it = mFloatKeys.find(key);
                return it == mFloatKeys.end() ? -1 : it->second;
            }
        });
    }

    LabelEncoderSpec mSpec;
    std::unordered_map<std::string_view, int64_t> mStringKeys;  // views into mSpec.keys
    std::unordered_map<int64_t, int64_t> mIntKeys;
    std::map<double, int64_t> mFloatKeys;
};

}  // namespace

void registerLabelEncoderKernel(CpuKernelRegistry& registry) {
    CpuKernelEntry entry{"LabelEncoder",
                         {},
                         [](const Node& node) -> Expected<std::unique_ptr<Kernel>> {
                             Expected<LabelEncoderSpec> spec = parseLabelEncoderSpec(node.attrs);
                             if (!spec) return spec.status().withContext(node.describe());
                             return std::unique_ptr<Kernel>(std::make_unique<LabelEncoderKernel>(std::move(*spec)));
                         },
                         "ai.onnx.ml"};
    entry.strings = true;
    registry.add(std::move(entry));
}

}  // namespace kiln::cpu
