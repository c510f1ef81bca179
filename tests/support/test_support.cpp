#include "test_support.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "backends/cpu/cpu_backend.h"
#include "ir/shape_inference.h"

namespace kiln::test {

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
    return v;
}

Tensor randomTensor(DataType dtype, const Shape& shape, double lo, double hi, uint32_t seed) {
    Tensor t = Tensor::allocate(dtype, shape);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    dispatchDataType(dtype, [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (int64_t i = 0; i < t.elementCount(); ++i) {
            double v = dist(rng);
            if constexpr (std::is_same_v<T, bool>)
                p[i] = v > (lo + hi) / 2;
            else if constexpr (std::is_integral_v<T>)
                p[i] = static_cast<T>(std::floor(v));
            else
                p[i] = T(static_cast<float>(v));
        }
    });
    if (dtype == DataType::kDOUBLE) {  // full double precision, not float-rounded
        std::mt19937 rng2(seed);
        for (int64_t i = 0; i < t.elementCount(); ++i) t.data<double>()[i] = dist(rng2);
    }
    return t;
}

double relativeL2(const Tensor& actual, const std::vector<double>& reference) {
    // Tensors of other sizes are infinitely far apart, so no accuracy bound passes them.
    if (static_cast<size_t>(actual.elementCount()) != reference.size()) return std::numeric_limits<double>::infinity();
    double diff = 0, norm = 0;
    for (size_t i = 0; i < reference.size(); ++i) {
        const double d = actual.elementAsDouble(static_cast<int64_t>(i)) - reference[i];
        diff += d * d;
        norm += reference[i] * reference[i];
    }
    return std::sqrt(diff / norm);
}

std::string compareWithReference(const Tensor& actual, const std::vector<double>& reference, double rtol, double atol) {
    if (static_cast<size_t>(actual.elementCount()) != reference.size()) {
        std::ostringstream oss;
        oss << "element count " << actual.elementCount() << " != reference " << reference.size();
        return oss.str();
    }
    double worst = 0;
    int64_t worstIndex = -1;
    for (size_t i = 0; i < reference.size(); ++i) {
        double a = actual.elementAsDouble(static_cast<int64_t>(i));
        double b = reference[i];
        if (std::isnan(b) && std::isnan(a)) continue;
        if (std::isinf(b) && a == b) continue;
        double excess = std::fabs(a - b) - (atol + rtol * std::fabs(b));
        if (!(excess <= 0) && (worstIndex < 0 || excess > worst || std::isnan(excess))) {
            worst = excess;
            worstIndex = static_cast<int64_t>(i);
        }
    }
    if (worstIndex < 0) return "";
    std::ostringstream oss;
    oss.precision(9);
    oss << "element " << worstIndex << ": got " << actual.elementAsDouble(worstIndex) << ", reference "
        << reference[static_cast<size_t>(worstIndex)] << " (rtol " << rtol << ", atol " << atol << ")";
    return oss.str();
}

SingleNodeRun runSingleNode(const std::string& opType, const std::vector<const Tensor*>& inputs, size_t numOutputs,
                            const AttributeMap& attrs, const std::string& domain) {
    SingleNodeRun result;
    Graph graph;
    std::vector<Value*> ins;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i]) {
            ins.push_back(nullptr);
            continue;
        }
        ins.push_back(graph.addInput("in" + std::to_string(i), inputs[i]->dtype(), fromConcrete(inputs[i]->shape())));
    }
    Node* node = graph.addNode(opType, "node", ins, {}, numOutputs);
    node->domain = domain;
    node->attrs = attrs;
    for (Value* out : node->outputs) graph.markOutput(out);

    std::vector<ValueInfo> infos = initialValueInfos(graph);
    for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i]) infos[static_cast<size_t>(ins[i]->id)].value = *inputs[i];
    ShapeInferenceOptions options;  // no evaluator: the node runs below, through its kernel
    result.status = inferShapes(graph, infos, options);
    if (!result.status) return result;
    std::vector<ValueInfo> outInfos;
    for (Value* out : node->outputs) {
        out->dtype = infos[static_cast<size_t>(out->id)].dtype;
        out->shape = infos[static_cast<size_t>(out->id)].shape;
        out->typeKnown = true;
        outInfos.push_back(infos[static_cast<size_t>(out->id)]);
    }
    CpuNodeEvaluator evaluator;
    auto outputs = evaluator.evaluate(*node, inputs, outInfos);
    if (!outputs) {
        result.status = outputs.status();
        return result;
    }
    result.outputs = std::move(outputs).value();
    return result;
}

}  // namespace kiln::test
