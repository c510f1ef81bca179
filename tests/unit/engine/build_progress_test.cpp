// BuilderConfig::setProgressMonitor: the build reports nested, balanced phases with every step in
// order, and a monitor that says stop cancels the build.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine_runner.h"
#include "test_support.h"

namespace kiln::test {
namespace {

class RecordingMonitor : public IProgressMonitor {
public:
    struct Phase {
        std::string name, parent;
        int32_t nbSteps;
        std::vector<int32_t> steps;
        bool finished{false};
    };
    void phaseStart(const char* name, const char* parent, int32_t nbSteps) noexcept override {
        phases.push_back({name, parent ? parent : "", nbSteps, {}, false});
        open.push_back(name);
    }
    bool stepComplete(const char* name, int32_t step) noexcept override {
        for (Phase& phase : phases)
            if (phase.name == name && !phase.finished) phase.steps.push_back(step);
        ++stepsSeen;
        return stepsSeen != cancelAtStep;
    }
    void phaseFinish(const char* name) noexcept override {
        // Phases must finish innermost first.
        if (open.empty() || open.back() != name) unbalanced = true;
        if (!open.empty()) open.pop_back();
        for (Phase& phase : phases)
            if (phase.name == name) phase.finished = true;
    }
    const Phase* find(const std::string& name) const {
        for (const Phase& phase : phases)
            if (phase.name == name) return &phase;
        return nullptr;
    }
    std::vector<Phase> phases;
    std::vector<std::string> open;
    bool unbalanced{false};
    int stepsSeen{0};
    int cancelAtStep{-1};  // 1-based count of steps after which to cancel; -1: never
};

class BuildProgressTest : public ::testing::Test {
protected:
    CapturingLogger logger;
    std::unique_ptr<Builder> builder = createBuilder(logger);
    std::unique_ptr<NetworkDefinition> net = builder->createNetwork();

    std::unique_ptr<HostMemory> buildWith(IProgressMonitor* monitor) {
        ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 4});
        ITensor* y = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
        y->setName("y");
        net->markOutput(*y);
        auto config = builder->createBuilderConfig();
        auto profile = builder->createOptimizationProfile();
        profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1, 4});
        profile->setDimensions("x", OptProfileSelector::kOPT, Dims{2, 4});
        profile->setDimensions("x", OptProfileSelector::kMAX, Dims{4, 4});
        config->addOptimizationProfile(profile.get());
        config->setProgressMonitor(monitor);
        EXPECT_EQ(config->getProgressMonitor(), monitor);
        return builder->buildSerializedNetwork(*net, *config);
    }
};

TEST_F(BuildProgressTest, PhasesNestAndEveryStepIsReportedInOrder) {
    RecordingMonitor monitor;
    ASSERT_TRUE(buildWith(&monitor));
    EXPECT_FALSE(monitor.unbalanced);
    EXPECT_TRUE(monitor.open.empty());
    const auto* build = monitor.find("Building engine");
    ASSERT_NE(build, nullptr);
    EXPECT_EQ(build->parent, "");
    ASSERT_GT(build->nbSteps, 1);
    std::vector<int32_t> expected(static_cast<size_t>(build->nbSteps));
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int32_t>(i);
    EXPECT_EQ(build->steps, expected);
    const auto* memory = monitor.find("Planning memory");
    ASSERT_NE(memory, nullptr);
    EXPECT_EQ(memory->parent, "Building engine");
    EXPECT_EQ(memory->nbSteps, 1);  // one profile
    EXPECT_EQ(memory->steps, std::vector<int32_t>{0});
    for (const auto& phase : monitor.phases) EXPECT_TRUE(phase.finished) << phase.name;
}

TEST_F(BuildProgressTest, AMonitorThatSaysStopCancelsTheBuild) {
    RecordingMonitor monitor;
    monitor.cancelAtStep = 2;
    EXPECT_FALSE(buildWith(&monitor));
    EXPECT_EQ(monitor.stepsSeen, 2);
    EXPECT_FALSE(monitor.unbalanced);
    EXPECT_TRUE(monitor.open.empty()) << "a cancelled build still finishes its phases";
    bool said = std::any_of(logger.errors.begin(), logger.errors.end(),
                            [](const std::string& e) { return e.find("cancelled") != std::string::npos; });
    EXPECT_TRUE(said);
}

TEST_F(BuildProgressTest, NoMonitorBuildsTheSameEngine) {
    RecordingMonitor monitor;
    auto watched = buildWith(&monitor);
    ASSERT_TRUE(watched);
    net = builder->createNetwork();
    auto plain = buildWith(nullptr);
    ASSERT_TRUE(plain);
    EXPECT_EQ(watched->size(), plain->size());
}

}  // namespace
}  // namespace kiln::test
