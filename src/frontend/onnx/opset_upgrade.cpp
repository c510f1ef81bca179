#include "frontend/onnx/opset_upgrade.h"

#include <type_traits>

#include "frontend/onnx/contrib_expansion.h"

namespace kiln::onnx_import {

void UpgradeContext::setInput(size_t i, Value* value) {
    if (mDraft.inputs.size() <= i) mDraft.inputs.resize(i + 1, nullptr);
    mDraft.inputs[i] = value;
}

DataType UpgradeContext::inputType(size_t i, DataType fallback) const {
    const ValueInfo* info = input(i) ? mHost.knownInfo(input(i)) : nullptr;
    return info ? info->dtype : fallback;
}

std::optional<int64_t> UpgradeContext::inputRank(size_t i) const {
    const ValueInfo* info = input(i) ? mHost.knownInfo(input(i)) : nullptr;
    if (!info) return std::nullopt;
    return static_cast<int64_t>(info->shape.size());
}

const Tensor* UpgradeContext::inputValue(size_t i) const {
    const ValueInfo* info = input(i) ? mHost.knownInfo(input(i)) : nullptr;
    return info && info->value ? &*info->value : nullptr;
}

Value* UpgradeContext::addConstant(const std::string& suffix, Tensor tensor) {
    return mHost.addHelperConstant(mNodeName + "_" + suffix, std::move(tensor));
}

Value* UpgradeContext::addNode(const std::string& opType, const std::string& suffix, std::vector<Value*> inputs,
                               AttributeMap attrs) {
    return mHost.addHelperNode(opType, mNodeName + "/" + suffix, std::move(inputs), std::move(attrs));
}

namespace {

const std::vector<OpsetUpgrade>& upgradeTable() {
    // Static linking cannot drop a family: each is listed here by name.
    static const std::vector<OpsetUpgrade> table = [] {
        std::vector<OpsetUpgrade> t;
        // First: it brings the forms of opsets 1 to 5 to opset 6's, where the other tables start.
        addEarlyOpsetUpgrades(t);
        addShapeUpgrades(t);
        addReduceUpgrades(t);
        addActivationUpgrades(t);
        addResizeUpgrades(t);
        addLegacyUpgrades(t);
        addScan8Upgrades(t);
        addBroadcastUpgrades(t);
        return t;
    }();
    return table;
}

}  // namespace

std::vector<const OpsetUpgrade*> upgradesFor(const std::string& opType, int64_t opset) {
    std::vector<const OpsetUpgrade*> out;
    for (const OpsetUpgrade& u : upgradeTable())
        if (opType == u.opType && opset < u.beforeOpset) out.push_back(&u);
    return out;
}

bool isImportable(const std::string& domain, const std::string& opType, int64_t opset) {
    if (findContribOp(domain, opType)) return true;
    const OpRegistry& registry = OpRegistry::global();
    if (!domain.empty()) return registry.find(domain, opType) != nullptr;
    bool renamed = false;
    for (const OpsetUpgrade* u : upgradesFor(opType, opset)) {
        for (const char* emitted : u->emits) {
            renamed = true;
            if (!registry.find("", emitted)) return false;
        }
    }
    return renamed || registry.find("", opType) != nullptr;
}

Status moveIntsAttributeToInput(UpgradeContext& ctx, const std::string& attr, size_t inputIndex, EmptyList empty) {
    if (!ctx.attrs().has(attr)) return Status::ok();
    std::optional<std::vector<int64_t>> values = ctx.attrs().getInts(attr);
    if (!values) return invalidModel("attribute '" + attr + "' must be a list of ints");
    ctx.attrs().erase(attr);
    if (values->empty() && empty == EmptyList::kOmitInput) return Status::ok();
    const int64_t count = static_cast<int64_t>(values->size());
    ctx.setInput(inputIndex, ctx.addConstant(attr, Tensor::fromInt64(*values, {count})));
    return Status::ok();
}

Tensor tensorOfType(DataType type, Shape shape, const std::vector<double>& values) {
    Tensor t = Tensor::allocate(type, std::move(shape));
    dispatchDataType(type, [&](auto tag) {
        using T = decltype(tag);
        T* out = t.data<T>();
        for (size_t i = 0; i < values.size(); ++i) {
            if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
                out[i] = T(static_cast<float>(values[i]));
            else
                out[i] = static_cast<T>(values[i]);
        }
    });
    return t;
}

Tensor scalarOfType(DataType type, double value) {
    return tensorOfType(type, {}, {value});
}

}  // namespace kiln::onnx_import
