// RotaryEmbedding (ONNX opset 23): rotates pairs of each head's first rotary_embedding_dim features by
// the angle of the token's position (RoPE). Input 4-D [batch, heads, seq, head_size] or 3-D [batch,
// seq, heads*head_size] (num_heads attribute); cos/sin caches [max_position, rot/2] indexed by
// position_ids [batch, seq], or [batch, seq, rot/2] without position_ids (a batch of 1 serves every
// batch entry, as NumPy broadcasting does in the ONNX reference).

#include "ir/op_registry.h"
#include "ir/ops/op_families.h"

namespace kiln {

namespace {

bool differs(const Dim& a, int64_t b) {
    return a.isKnown() && a.value != b;
}
bool differs(const Dim& a, const Dim& b) {
    return a.isKnown() && b.isKnown() && a.value != b.value;
}

Status inferRotaryEmbedding(InferenceContext& ctx) {
    const DataType t = ctx.inputType(0);
    if (t != DataType::kFLOAT && t != DataType::kHALF && t != DataType::kBF16)
        return ctx.error("input must be float, float16 or bfloat16");
    if (ctx.inputType(1) != t || ctx.inputType(2) != t)
        return ctx.error("cos_cache and sin_cache must have the input's type");
    const SymShape& x = ctx.inputShape(0);
    if (x.size() != 3 && x.size() != 4)
        return ctx.error("input must be 3-D or 4-D, got rank " + std::to_string(x.size()));
    const int64_t numHeads = ctx.attrs().getInt("num_heads", 0);
    if (numHeads < 0) return ctx.error("num_heads must be positive");
    if (x.size() == 3 && numHeads == 0) return ctx.error("a 3-D input needs the num_heads attribute");
    const Dim batch = x[0];
    const Dim seq = x.size() == 4 ? x[2] : x[1];
    Dim headSize = Dim::unknown();
    if (x.size() == 4) {
        headSize = x[3];
        if (numHeads > 0 && differs(x[1], numHeads))
            return ctx.error("num_heads " + std::to_string(numHeads) + " differs from the input's head axis " +
                             x[1].toString());
    } else if (x[2].isKnown()) {
        if (x[2].value % numHeads != 0)
            return ctx.error("hidden size " + std::to_string(x[2].value) + " is not a multiple of num_heads " +
                             std::to_string(numHeads));
        headSize = Dim(x[2].value / numHeads);
    }
    const int64_t rotaryAttr = ctx.attrs().getInt("rotary_embedding_dim", 0);
    if (rotaryAttr < 0 || rotaryAttr % 2 != 0) return ctx.error("rotary_embedding_dim must be even and >= 0");
    if (headSize.isKnown()) {
        if (rotaryAttr > headSize.value)
            return ctx.error("rotary_embedding_dim " + std::to_string(rotaryAttr) + " exceeds the head size " +
                             std::to_string(headSize.value));
        if (rotaryAttr == 0 && headSize.value % 2 != 0)
            return ctx.error("the head size " + std::to_string(headSize.value) + " must be even to rotate it whole");
    }
    const Dim half = rotaryAttr > 0       ? Dim(rotaryAttr / 2)
                     : headSize.isKnown() ? Dim(headSize.value / 2)
                                          : Dim::unknown();

    const bool hasPositions = ctx.hasInput(3);
    const size_t cacheRank = hasPositions ? 2 : 3;
    for (size_t i : {size_t{1}, size_t{2}}) {
        const SymShape& c = ctx.inputShape(i);
        const char* name = i == 1 ? "cos_cache" : "sin_cache";
        if (c.size() != cacheRank)
            return ctx.error(std::string(name) + " must be " +
                             (hasPositions ? "2-D [max_position, rot/2] with position_ids"
                                           : "3-D [batch, seq, rot/2] without position_ids"));
        if (differs(c.back(), half))
            return ctx.error(std::string(name) + "'s last axis " + c.back().toString() +
                             " is not rotary_embedding_dim/2 = " + half.toString());
        if (!hasPositions && ((differs(c[0], batch) && differs(c[0], 1)) || differs(c[1], seq)))
            return ctx.error(std::string(name) + " " + symShapeToString(c) +
                             " does not cover (batch, seq) of the input");
    }
    if (hasPositions) {
        const SymShape& p = ctx.inputShape(3);
        if (ctx.inputType(3) != DataType::kINT64 || p.size() != 2)
            return ctx.error("position_ids must be a 2-D int64 tensor [batch, seq]");
        if ((differs(p[0], batch) && differs(p[0], 1)) || differs(p[1], seq))
            return ctx.error("position_ids " + symShapeToString(p) + " is not (batch or 1, seq) of the input");
    }
    ctx.setOutput(0, t, x);
    return Status::ok();
}

}  // namespace

void registerRotaryEmbeddingOps(OpRegistry& registry) {
    registry.add({"RotaryEmbedding", "", inferRotaryEmbedding, 3, 4});
}

}  // namespace kiln
