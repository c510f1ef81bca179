#include "runtime/layer_report.h"

namespace kiln {

namespace {
nlohmann::json tensorJson(const Value& v) {
    nlohmann::json dims = nlohmann::json::array();
    for (const Dim& d : v.shape) {
        if (d.isKnown())
            dims.push_back(d.value);
        else
            dims.push_back(-1);
    }
    return {{"Name", v.name}, {"Dimensions", dims}, {"Format/Datatype", dataTypeName(v.dtype)}};
}
}  // namespace

nlohmann::json layerReportJson(const EnginePlan& plan) {
    nlohmann::json layers = nlohmann::json::array();
    const Graph& g = *plan.graph;
    for (const auto& node : g.nodes()) {
        nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
        for (const Value* in : node->inputs)
            if (in) inputs.push_back(tensorJson(*in));
        for (const Value* out : node->outputs)
            if (out) outputs.push_back(tensorJson(*out));
        nlohmann::json layer = {{"Name", node->name},
                                {"LayerType", node->opType},
                                {"Origin", node->sourceNodes},
                                {"Inputs", inputs},
                                {"Outputs", outputs}};
        auto it = plan.layers.find(node->id);
        if (it != plan.layers.end()) {
            layer["TacticName"] = it->second.tactic;
            layer["Precision"] = dataTypeName(it->second.precision);
        }
        layers.push_back(std::move(layer));
    }
    nlohmann::json bindings = nlohmann::json::array();
    for (const Value* in : g.inputs()) bindings.push_back(in->name);
    for (const Value* out : g.outputs()) bindings.push_back(out->name);
    return {{"Layers", layers}, {"Bindings", bindings}};
}

}  // namespace kiln
