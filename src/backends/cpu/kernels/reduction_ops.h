#pragma once
// The ReduceX operations as accumulators: init, add one value, finish with the count. Floating
// inputs accumulate in double; integer inputs in 64-bit integers (wrapping like the narrow type
// does after truncation), except where the result is inherently real (L2, LogSum, LogSumExp).

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "common/half.h"

namespace kiln::cpu {

enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

template <typename T>
constexpr bool kIsFloatStorage = std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

/// The arithmetic type values of storage type T are accumulated in.
template <typename T>
using ReduceValue = std::conditional_t<kIsFloatStorage<T>, double,
                                       std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

/// LogSumExp's running state: the largest value so far and the sum of exp(x - max).
struct LogSumExpState {
    double max{-std::numeric_limits<double>::infinity()};
    double sum{0};
};

template <ReduceOp Op, typename T>
struct Reducer {
    using V = ReduceValue<T>;
    static constexpr bool kReal = Op == ReduceOp::kL2 || Op == ReduceOp::kLogSum || Op == ReduceOp::kLogSumExp;
    using Acc = std::conditional_t<Op == ReduceOp::kLogSumExp, LogSumExpState, std::conditional_t<kReal, double, V>>;

    static V load(T x) {
        if constexpr (std::is_same_v<T, double>) return x;
        else if constexpr (kIsFloatStorage<T>) return static_cast<double>(static_cast<float>(x));
        else return static_cast<V>(x);
    }

    static Acc init() {
        if constexpr (Op == ReduceOp::kLogSumExp) {
            return LogSumExpState{};
        } else if constexpr (Op == ReduceOp::kProd) {
            return Acc(1);
        } else if constexpr (Op == ReduceOp::kMax) {
            return kIsFloatStorage<T> ? -std::numeric_limits<Acc>::infinity() : static_cast<Acc>(lowestOf());
        } else if constexpr (Op == ReduceOp::kMin) {
            return kIsFloatStorage<T> ? std::numeric_limits<Acc>::infinity() : static_cast<Acc>(highestOf());
        } else {
            return Acc(0);
        }
    }

    static void add(Acc& acc, T raw) {
        const V x = load(raw);
        if constexpr (Op == ReduceOp::kSum || Op == ReduceOp::kMean) {
            acc = plus(acc, x);
        } else if constexpr (Op == ReduceOp::kLogSum) {
            acc += static_cast<double>(x);
        } else if constexpr (Op == ReduceOp::kProd) {
            acc = times(acc, x);
        } else if constexpr (Op == ReduceOp::kMax) {
            if (x > acc || x != x) acc = x;  // NaN sticks, as in numpy
        } else if constexpr (Op == ReduceOp::kMin) {
            if (x < acc || x != x) acc = x;
        } else if constexpr (Op == ReduceOp::kL1) {
            if constexpr (std::is_unsigned_v<V>) acc = plus(acc, x);
            else acc = plus(acc, x < V(0) ? times(x, V(-1)) : x);
        } else if constexpr (Op == ReduceOp::kL2) {
            acc += static_cast<double>(x) * static_cast<double>(x);
        } else if constexpr (Op == ReduceOp::kSumSquare) {
            acc = plus(acc, times(x, x));
        } else {  // kLogSumExp: online rescaling keeps exp() from overflowing
            const double v = static_cast<double>(x);
            if (v == -std::numeric_limits<double>::infinity()) return;
            if (v > acc.max) {
                acc.sum = acc.sum * std::exp(acc.max - v) + 1.0;
                acc.max = v;
            } else {
                acc.sum += std::exp(v - acc.max);
            }
        }
    }

    static T finish(const Acc& acc, int64_t count) {
        if constexpr (Op == ReduceOp::kMean) {
            if constexpr (kIsFloatStorage<T>) return store(acc / static_cast<double>(count));
            else return count == 0 ? T(0) : static_cast<T>(acc / static_cast<V>(count));
        } else if constexpr (Op == ReduceOp::kL2) {
            return store(std::sqrt(acc));
        } else if constexpr (Op == ReduceOp::kLogSum) {
            return store(std::log(acc));
        } else if constexpr (Op == ReduceOp::kLogSumExp) {
            return store(acc.sum == 0 ? -std::numeric_limits<double>::infinity() : acc.max + std::log(acc.sum));
        } else {
            if constexpr (kIsFloatStorage<T>) return store(static_cast<double>(acc));
            else return static_cast<T>(acc);
        }
    }

private:
    // Integer arithmetic wraps (through uint64) instead of overflowing.
    static V plus(V a, V b) {
        if constexpr (std::is_integral_v<V>) return static_cast<V>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
        else return a + b;
    }
    static V times(V a, V b) {
        if constexpr (std::is_integral_v<V>) return static_cast<V>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
        else return a * b;
    }
    static T store(double v) {
        if constexpr (std::is_same_v<T, double>) return v;
        else if constexpr (kIsFloatStorage<T>) return T(static_cast<float>(v));
        else return static_cast<T>(v);
    }
    static V lowestOf() {
        if constexpr (std::is_same_v<T, bool>) return V(0);
        else return static_cast<V>(std::numeric_limits<T>::lowest());
    }
    static V highestOf() {
        if constexpr (std::is_same_v<T, bool>) return V(1);
        else return static_cast<V>(std::numeric_limits<T>::max());
    }
};

}  // namespace kiln::cpu
