#include "ir/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

namespace kiln {

int64_t shapeElementCount(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shapeToString(const Shape& shape, bool bracketed) {
    std::ostringstream oss;
    if (bracketed) oss << '(';
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) oss << (bracketed ? ", " : "x");
        oss << shape[i];
    }
    if (bracketed) oss << ')';
    return oss.str();
}

Tensor Tensor::allocate(DataType type, Shape shape) {
    Tensor t;
    t.mType = type;
    t.mShape = std::move(shape);
    size_t bytes = t.byteSize();
    size_t rounded = ((bytes + 63) / 64) * 64;
    if (rounded == 0) rounded = 64;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, rounded);
    t.mOwner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    t.mData = p;
    return t;
}

Tensor Tensor::wrap(DataType type, Shape shape, void* data, std::shared_ptr<void> owner) {
    Tensor t;
    t.mType = type;
    t.mShape = std::move(shape);
    t.mData = data;
    t.mOwner = std::move(owner);
    return t;
}

Tensor Tensor::fromInt64(const std::vector<int64_t>& values, Shape shape) {
    Tensor t = allocate(DataType::kINT64, std::move(shape));
    // An empty vector may hold no storage at all: memcpy's pointers must not be null, even for 0 bytes.
    if (!values.empty()) std::memcpy(t.mData, values.data(), values.size() * sizeof(int64_t));
    return t;
}

Tensor Tensor::scalarFloat(float value) {
    Tensor t = allocate(DataType::kFLOAT, {});
    *t.data<float>() = value;
    return t;
}

Tensor Tensor::fromStrings(const std::vector<std::string_view>& values, Shape shape) {
    // One block: the views, then the bytes they point to, so the tensor's one owner keeps both.
    size_t count = values.size();
    size_t bytes = 0;
    for (std::string_view v : values) bytes += v.size();
    size_t viewBytes = count * sizeof(StringView);
    size_t total = ((viewBytes + bytes + 63) / 64) * 64;
    if (total == 0) total = 64;
    void* p = std::aligned_alloc(64, total);
    if (!p) throw std::bad_alloc();
    auto* views = static_cast<StringView*>(p);
    char* chars = static_cast<char*>(p) + viewBytes;
    for (size_t i = 0; i < count; ++i) {
        if (!values[i].empty()) std::memcpy(chars, values[i].data(), values[i].size());
        views[i] = {chars, values[i].size()};
        chars += values[i].size();
    }
    Tensor t;
    t.mType = DataType::kSTRING;
    t.mShape = std::move(shape);
    t.mOwner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    t.mData = p;
    return t;
}

std::vector<std::string_view> Tensor::strings() const {
    std::vector<std::string_view> out;
    if (mType != DataType::kSTRING) return out;
    const auto* views = static_cast<const StringView*>(mData);
    out.reserve(static_cast<size_t>(elementCount()));
    for (int64_t i = 0; i < elementCount(); ++i) out.emplace_back(views[i].data, static_cast<size_t>(views[i].size));
    return out;
}

double Tensor::elementAsDouble(int64_t i) const {
    if (isLowBitType(mType)) return lowBitToDouble(mType, static_cast<const uint8_t*>(mData)[i]);
    return dispatchDataType(mType, [&](auto tag) -> double {
        using T = decltype(tag);
        return static_cast<double>(static_cast<const T*>(mData)[i]);
    });
}

std::vector<int64_t> Tensor::toInt64Vector() const {
    std::vector<int64_t> out(static_cast<size_t>(elementCount()));
    if (isLowBitType(mType)) {
        for (size_t i = 0; i < out.size(); ++i) {
            // Truncated toward zero like the other floating types; NaN, infinities and e8m0
            // powers beyond int64 read as 0.
            const double v = elementAsDouble(static_cast<int64_t>(i));
            out[i] = std::fabs(v) < 9.2e18 ? static_cast<int64_t>(v) : 0;
        }
        return out;
    }
    dispatchDataType(mType, [&](auto tag) {
        using T = decltype(tag);
        const T* p = static_cast<const T*>(mData);
        for (size_t i = 0; i < out.size(); ++i) {
            if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                out[i] = static_cast<int64_t>(static_cast<float>(p[i]));
            else
                out[i] = static_cast<int64_t>(p[i]);
        }
    });
    return out;
}

std::vector<double> Tensor::toDoubleVector() const {
    std::vector<double> out(static_cast<size_t>(elementCount()));
    for (size_t i = 0; i < out.size(); ++i) out[i] = elementAsDouble(static_cast<int64_t>(i));
    return out;
}

Tensor Tensor::clone() const {
    if (mType == DataType::kSTRING) return fromStrings(strings(), mShape);
    Tensor t = allocate(mType, mShape);
    if (byteSize()) std::memcpy(t.mData, mData, byteSize());
    return t;
}

Tensor Tensor::reshaped(Shape shape) const {
    Tensor t = *this;
    t.mShape = std::move(shape);
    return t;
}

}  // namespace kiln
