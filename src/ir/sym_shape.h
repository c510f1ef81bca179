#pragma once
// Symbolic shapes: a dimension is a known extent, a named symbol ("batch": equal names are equal
// extents), or unknown. Build-time shape inference works on these; run-time inference sees only
// known extents.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace kiln {

struct Dim {
    int64_t value{-1};   // >= 0 when known
    std::string symbol;  // non-empty for a named dynamic dimension

    Dim() = default;
    Dim(int64_t v) : value(v) {}  // NOLINT: a known extent converts implicitly
    static Dim named(std::string name) {
        Dim d;
        d.symbol = std::move(name);
        return d;
    }
    static Dim unknown() { return Dim{}; }

    bool isKnown() const { return value >= 0; }
    bool operator==(const Dim& o) const {
        if (isKnown() || o.isKnown()) return value == o.value;
        return !symbol.empty() && symbol == o.symbol;
    }
    bool operator!=(const Dim& o) const { return !(*this == o); }
    std::string toString() const;
};

/// A tensor shape whose rank is known (every IR tensor has a known rank at build time).
using SymShape = std::vector<Dim>;

bool isFullyKnown(const SymShape& shape);
/// The concrete shape; only valid when isFullyKnown().
Shape toConcrete(const SymShape& shape);
SymShape fromConcrete(const Shape& shape);
/// "(1, 3, batch, -1)"
std::string symShapeToString(const SymShape& shape);
/// Product of the dimensions, when all are known.
std::optional<int64_t> knownElementCount(const SymShape& shape);

/// Numpy-style multidirectional broadcasting of two shapes. Fails (nullopt) when two known extents
/// differ and neither is 1.
std::optional<SymShape> broadcastShapes(const SymShape& a, const SymShape& b);

/// Normalizes a possibly negative axis for a tensor of `rank`; nullopt when out of range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

}  // namespace kiln
