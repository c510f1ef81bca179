#pragma once
// The CPU kernel files of the ml family; registerMlKernels (ml_features.cpp) calls them.

namespace kiln {
class CpuKernelRegistry;
}

namespace kiln::cpu {

void registerTreeEnsembleKernels(CpuKernelRegistry& registry);  // ml_tree_ensemble.cpp
void registerTfIdfKernels(CpuKernelRegistry& registry);         // ml_tfidf.cpp

}  // namespace kiln::cpu
