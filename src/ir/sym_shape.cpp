#include "ir/sym_shape.h"

#include <sstream>

namespace kiln {

std::string Dim::toString() const {
    if (isKnown()) return std::to_string(value);
    return symbol.empty() ? "-1" : symbol;
}

bool isFullyKnown(const SymShape& shape) {
    for (const Dim& d : shape)
        if (!d.isKnown()) return false;
    return true;
}

Shape toConcrete(const SymShape& shape) {
    Shape s;
    s.reserve(shape.size());
    for (const Dim& d : shape) s.push_back(d.value);
    return s;
}

SymShape fromConcrete(const Shape& shape) {
    SymShape s;
    s.reserve(shape.size());
    for (int64_t d : shape) s.emplace_back(d);
    return s;
}

std::string symShapeToString(const SymShape& shape) {
    std::ostringstream oss;
    oss << '(';
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) oss << ", ";
        oss << shape[i].toString();
    }
    oss << ')';
    return oss.str();
}

std::optional<int64_t> knownElementCount(const SymShape& shape) {
    int64_t n = 1;
    for (const Dim& d : shape) {
        if (!d.isKnown()) return std::nullopt;
        n *= d.value;
    }
    return n;
}

std::optional<SymShape> broadcastShapes(const SymShape& a, const SymShape& b) {
    size_t rank = std::max(a.size(), b.size());
    SymShape out(rank);
    for (size_t i = 0; i < rank; ++i) {
        const Dim* da = i < rank - a.size() ? nullptr : &a[i - (rank - a.size())];
        const Dim* db = i < rank - b.size() ? nullptr : &b[i - (rank - b.size())];
        if (!da) { out[i] = *db; continue; }
        if (!db) { out[i] = *da; continue; }
        if (da->isKnown() && db->isKnown()) {
            if (da->value == db->value || db->value == 1) out[i] = *da;
            else if (da->value == 1) out[i] = *db;
            else return std::nullopt;
        } else if (da->isKnown()) {
            out[i] = da->value == 1 ? *db : *da;  // a known non-1 extent decides
        } else if (db->isKnown()) {
            out[i] = db->value == 1 ? *da : *db;
        } else {
            out[i] = (*da == *db) ? *da : Dim::unknown();
        }
    }
    return out;
}

std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
    if (axis < -rank || axis >= rank) return std::nullopt;
    return axis < 0 ? axis + rank : axis;
}

}  // namespace kiln
