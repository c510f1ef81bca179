#include "surgeon_command.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli_app.h"
#include "cli_logger.h"
#include "exit_codes.h"
#include "kiln/graph_surgeon.h"

namespace kiln::cli {

SurgeonCommand::SurgeonCommand(CLI::App& parent)
    : mApp(parent.add_subcommand("surgeon", "Edit an ONNX model (remove nodes, fold constants, clean up, sort) and save it")) {
    mApp->add_option("--onnx", mOnnx, "The ONNX model to edit")->required()->type_name("FILE");
    mApp->add_option("--saveOnnx", mSaveOnnx, "Where to save the edited model (all weights inside it)")
        ->required()
        ->type_name("FILE");
    mApp->add_option("--removeNodes", mRemoveNodes,
                     "Remove these nodes (comma-separated names); their outputs must be unused afterwards")
        ->delimiter(',')
        ->type_name("NAMES");
    mApp->add_flag("--reconnect", mReconnect,
                   "With --removeNodes: readers of a removed node's first output read its first input instead "
                   "(removing pass-through nodes such as Identity)");
    mApp->add_flag("--foldConstants", mFoldConstants,
                   "Compute nodes whose inputs are all constant with Kiln's CPU kernels; their outputs become initializers");
    mApp->add_option("--foldLimit", mFoldLimit,
                     "With --foldConstants: leave nodes whose outputs exceed this many bytes (default: no limit)")
        ->type_name("BYTES");
    mApp->add_flag("--cleanup", mCleanup,
                   "Remove nodes no graph output depends on, unused initializers and stale value_info");
    mApp->add_flag("--removeUnusedInputs", mRemoveUnusedInputs, "With --cleanup: also remove graph inputs nothing reads");
    mApp->add_flag("--toposort", mToposort, "Sort the nodes topologically (nodes already in order keep it)");
    mApp->add_flag("--verbose", mVerbose, "Log everything (default: off)");
    mApp->footer(
        "Steps run in this order: --removeNodes, --foldConstants, --cleanup, --toposort.\n"
        "Exit status: 0 on success; 1 when the model cannot be read, edited or saved; 2 for a malformed command line.");
}

bool SurgeonCommand::selected() const {
    return mApp->parsed();
}

int SurgeonCommand::run(const std::string& commandLine) {
    return runWithStatusLines("surgeon", commandLine, [&]() {
        CliLogger logger;
        logger.setVerbose(mVerbose);
        if (mRemoveUnusedInputs && !mCleanup) {
            logger.reportFailure("--removeUnusedInputs needs --cleanup");
            return kExitUsage;
        }
        if (mFoldLimit && !mFoldConstants) {
            logger.reportFailure("--foldLimit needs --foldConstants");
            return kExitUsage;
        }
        auto graph = surgeon::OnnxGraph::load(mOnnx.c_str(), logger);
        if (!graph) {
            logger.reportFailure("cannot read '" + mOnnx + "'");
            return kExitFailure;
        }
        if (!mRemoveNodes.empty() && !graph->removeNodes(mRemoveNodes, mReconnect)) {
            logger.reportFailure("cannot remove the nodes");
            return kExitFailure;
        }
        if (mFoldConstants) {
            const int64_t folded = graph->foldConstants({.maxTensorBytes = static_cast<size_t>(mFoldLimit)});
            if (folded < 0) {
                logger.reportFailure("constant folding failed");
                return kExitFailure;
            }
        }
        if (mCleanup && !graph->cleanup({.removeUnusedGraphInputs = mRemoveUnusedInputs})) {
            logger.reportFailure("cleanup failed");
            return kExitFailure;
        }
        if (mToposort && !graph->toposort()) {
            logger.reportFailure("cannot sort the graph");
            return kExitFailure;
        }
        if (!graph->save(mSaveOnnx.c_str())) {
            logger.reportFailure("cannot save '" + mSaveOnnx + "'");
            return kExitFailure;
        }
        std::cout << "Saved the edited model to " << mSaveOnnx << " (" << graph->nodeNames().size() << " nodes)"
                  << std::endl;
        return kExitSuccess;
    });
}

}  // namespace kiln::cli
