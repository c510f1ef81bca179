#include "op_listing.h"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "backends/cpu/kernel_registry.h"
#include "frontend/onnx/contrib_expansion.h"
#include "ir/op_registry.h"

namespace kiln::conformance {

std::string listRegisteredOpsJson() {
    nlohmann::json ops = nlohmann::json::array();
    for (const OpSchema* schema : OpRegistry::global().all()) {
        nlohmann::json op = {{"op_type", schema->opType},
                             {"domain", schema->domain},
                             {"min_inputs", schema->minInputs},
                             {"max_inputs", nullptr},
                             {"cpu_kernel", CpuKernelRegistry::global().find(schema->domain, schema->opType) != nullptr}};
        if (schema->maxInputs != SIZE_MAX) op["max_inputs"] = schema->maxInputs;
        ops.push_back(std::move(op));
    }
    // Contrib ops have no schema of their own: the importer expands them into the ops they list.
    for (const auto& [key, contrib] : onnx_import::contribOps()) {
        bool kernels = true;
        for (const std::string& op : contrib.emits) kernels = kernels && CpuKernelRegistry::global().find("", op);
        ops.push_back({{"op_type", key.second},
                       {"domain", key.first},
                       {"expanded_into", contrib.emits},
                       {"cpu_kernel", kernels}});
    }
    std::sort(ops.begin(), ops.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
        return a["domain"].get<std::string>() + a["op_type"].get<std::string>() <
               b["domain"].get<std::string>() + b["op_type"].get<std::string>();
    });
    return ops.dump(1);
}

}  // namespace kiln::conformance
