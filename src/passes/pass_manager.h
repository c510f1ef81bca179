#pragma once
// Runs passes in the order given, logs what each changed, and (when asked) verifies the graph
// after each one, naming the pass that broke it.

#include <memory>
#include <vector>

#include "passes/pass.h"

namespace kiln {

struct PassStats {
    std::string pass;
    size_t changes{0};
    size_t nodesAfter{0};
};

class PassManager {
public:
    void add(std::unique_ptr<Pass> pass) { mPasses.push_back(std::move(pass)); }
    void setVerifyAfterEachPass(bool verify) { mVerify = verify; }
    const std::vector<std::unique_ptr<Pass>>& passes() const { return mPasses; }

    /// Runs every pass once, in order.
    Expected<std::vector<PassStats>> run(Graph& graph, PassContext& ctx) const;

private:
    std::vector<std::unique_ptr<Pass>> mPasses;
    bool mVerify{false};
};

}  // namespace kiln
