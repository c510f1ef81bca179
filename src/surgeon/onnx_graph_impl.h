#pragma once
// What an OnnxGraph holds, shared by the files that implement it: the model itself (edits work on
// the protobuf directly, so everything Kiln does not interpret, such as metadata, doc strings and
// unknown domains' nodes, is saved as it was loaded) and the logger that hears about failures.

#include <exception>
#include <new>
#include <string>

#include "common/logging.h"
#include "common/status.h"
#include "kiln/graph_surgeon.h"
#include "onnx.pb.h"

namespace kiln::surgeon {

struct OnnxGraph::Impl {
    explicit Impl(ILogger& logger) : log(&logger) {}

    onnx::ModelProto model;
    Logger log;

    onnx::GraphProto& graph() { return *model.mutable_graph(); }
    const onnx::GraphProto& graph() const { return model.graph(); }

    /// Runs `operation`, an edit or query named `what`; a failed Status, or anything thrown, is
    /// logged as "<what>: <reason>" and turned into `failed`. The public API's noexcept boundary.
    template <typename T, typename Operation>
    T guarded(const char* what, T failed, Operation&& operation) const noexcept {
        try {
            Expected<T> result = operation();
            if (result) return std::move(result).value();
            report(what, result.status().message());
        } catch (const std::bad_alloc&) {
            report(what, "out of memory");
        } catch (const std::exception& e) {
            report(what, std::string("internal error: ") + e.what());
        }
        return failed;
    }

private:
    void report(const char* what, const std::string& reason) const noexcept {
        try {
            log.error(std::string(what) + ": " + reason);
        } catch (...) {
            // Out of memory while reporting: the failed return still tells the caller.
        }
    }
};

// The edits, one file each group; each validates everything before it changes the graph.
Status removeNodes(onnx::GraphProto& graph, const std::vector<std::string>& names, bool reconnect);
Status replaceSubgraph(onnx::ModelProto& model, const std::vector<std::string>& names, const NewNode& node,
                       const ReplaceOptions& options);
Status insertNode(onnx::ModelProto& model, const NewNode& node);
/// Returns a one-line summary of what went.
Expected<std::string> cleanup(onnx::GraphProto& graph, const CleanupOptions& options);
Status toposort(onnx::GraphProto& graph);
Expected<int64_t> foldConstants(onnx::ModelProto& model, const FoldOptions& options, const Logger& log);

}  // namespace kiln::surgeon
