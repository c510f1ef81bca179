#pragma once
// Where the tests find the sample plugin library (sample_plugins.cpp). CTest passes its path in
// KILN_SAMPLE_PLUGINS, which scripts/gpu_test.sh rewrites when a build is carried to another machine;
// an executable run by hand falls back to the path the build had (KILN_SAMPLE_PLUGINS_LIBRARY).

#include <cstdlib>
#include <string>

namespace kiln::test {

inline std::string samplePluginsLibrary() {
    const char* fromCtest = std::getenv("KILN_SAMPLE_PLUGINS");
    return fromCtest && *fromCtest ? fromCtest : KILN_SAMPLE_PLUGINS_LIBRARY;
}

}  // namespace kiln::test
