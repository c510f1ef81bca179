#include "inference_io.h"

namespace kiln::cli {

namespace {

class HostInferenceIo : public InferenceIo {
public:
    Status bind(ExecutionContext& context, const std::vector<HostBinding>& inputs,
                const std::vector<HostBinding>& outputs) override {
        for (const std::vector<HostBinding>* group : {&inputs, &outputs})
            for (const HostBinding& b : *group)
                if (!context.setTensorAddress(b.name.c_str(), b.host))
                    return internalError("cannot set the address of '" + b.name + "' (reason above)");
        return Status::ok();
    }

    Expected<double> runOnce(ExecutionContext& context) override {
        if (!context.execute()) return internalError("inference failed (reason above)");
        return -1.0;
    }

    Status fetchOutputs() override { return Status::ok(); }
};

}  // namespace

std::unique_ptr<InferenceIo> createHostInferenceIo() {
    return std::make_unique<HostInferenceIo>();
}

}  // namespace kiln::cli
