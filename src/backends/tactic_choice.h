#pragma once
// Optional capabilities for the builder's kernel timing (builder/tactic_selection.h), beside the
// Backend / Kernel interface: a kernel that can choose among implementations also derives from
// TacticChooser, a backend that can time device work also derives from RunTimer. The builder asks for
// them with dynamic_cast, so kernels and backends without a choice carry nothing for it, and a backend
// built before them still loads. (Their destructors live in libkiln, so the type information the
// cast compares is the core's in every library.)
//
// The protocol: the builder creates a layer's kernel at the first profile's opt shapes from a trial
// copy of the node that asks for a wide list (kTacticSearchAttribute), times each candidate, and
// stores the fastest one's tacticState() in the node (kTacticAttribute); the kernel created from the
// engine reads it and applies it again at reshape() where its library confirms it is valid.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "common/status.h"

namespace kiln {

class TacticChooser {
public:
    virtual ~TacticChooser();
    /// Implementations to choose among at the shapes of the last reshape(); 1: no choice.
    virtual size_t tacticCount() const = 0;
    /// Uses implementation `index` (< tacticCount()) until the next reshape(); 0 is the default one.
    virtual Status selectTactic(size_t index) = 0;
    /// The chosen implementation, as the numbers a later kernel needs to use it again.
    virtual std::vector<int64_t> tacticState() const = 0;
    /// The problem the tactics solve (op, types, shapes, attributes that matter), which keys the timing
    /// cache together with the target; "" when there is no choice.
    virtual std::string tacticKey() const = 0;
};

class RunTimer {
public:
    virtual ~RunTimer();
    /// Runs `launch` (which enqueues work on `stream`) `warmup` times, then `repeats` times each timed
    /// on the device, and returns the median in milliseconds.
    virtual Expected<double> timeRuns(Stream stream, int warmup, int repeats, const std::function<Status()>& launch) = 0;
};

}  // namespace kiln
