#include "passes/patch_conv_to_matmul.h"

#include "ir/ops/conv_window.h"
#include "passes/pattern_utils.h"

namespace kiln {

namespace {

/// Kernels smaller than this (1x1, 1x2, ...) are left to the convolution paths, which handle
/// pointwise convolutions well already.
constexpr int64_t kMinKernelElements = 4;
/// Input channels at most: image stems (RGB, RGBA), which convolution kernels serve badly. A patch
/// convolution over many channels (ConvNeXt's 2x2/2 downsampling over 96 and more) is what their
/// tensor-core kernels do well, and the rewrite would only add its two transposes.
constexpr int64_t kMaxPatchChannels = 4;

/// The geometry of a Conv this pass rewrites.
struct Patchify {
    Dim batch;
    int64_t channels{0};
    int64_t kh{0};
    int64_t kw{0};
    int64_t h{0};  // patches along H
    int64_t w{0};  // patches along W
    int64_t outChannels{0};
};

bool isGemmType(DataType t) {
    return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16 || t == DataType::kDOUBLE;
}

/// The geometry when `conv` is exactly a GEMM over non-overlapping patches that tile its input.
std::optional<Patchify> matchPatchify(const Node& conv) {
    if (!conv.domain.empty() || conv.opType != "Conv" || conv.inputs.size() < 2 || conv.inputs.size() > 3) return std::nullopt;
    const Value* x = conv.input(0);
    const Value* wv = conv.input(1);
    const Value* b = conv.input(2);
    const Value* y = conv.output(0);
    if (!x || !x->typeKnown || x->shape.size() != 4 || !isGemmType(x->dtype) || !y) return std::nullopt;
    if (!wv || !wv->isConstant() || wv->dtype != x->dtype || wv->constant->rank() != 4) return std::nullopt;
    if (b && (!b->isConstant() || b->dtype != x->dtype || b->constant->rank() != 1)) return std::nullopt;
    if (conv.attrs.getInt("group", 1) != 1) return std::nullopt;
    const Shape& ws = wv->constant->shape();
    Patchify p;
    p.batch = x->shape[0];
    p.outChannels = ws[0];
    p.channels = ws[1];
    p.kh = ws[2];
    p.kw = ws[3];
    if (b && b->constant->elementCount() != p.outChannels) return std::nullopt;
    if (!x->shape[1].isKnown() || x->shape[1].value != p.channels) return std::nullopt;
    if (!x->shape[2].isKnown() || !x->shape[3].isKnown()) return std::nullopt;
    if (p.outChannels <= 0 || p.channels <= 0 || p.channels > kMaxPatchChannels || p.kh * p.kw < kMinKernelElements)
        return std::nullopt;
    auto spec = parseWindowSpec(conv.attrs, 2, Shape{p.kh, p.kw}, WindowKind::kConvolution);
    if (!spec || (spec->autoPad != AutoPad::kNotSet && spec->autoPad != AutoPad::kValid)) return std::nullopt;
    if (spec->kernel != Shape{p.kh, p.kw} || spec->strides != spec->kernel || spec->dilations != Shape{1, 1})
        return std::nullopt;
    for (int64_t pad : spec->pads)
        if (pad != 0) return std::nullopt;
    const int64_t height = x->shape[2].value, width = x->shape[3].value;
    if (height % p.kh != 0 || width % p.kw != 0) return std::nullopt;
    p.h = height / p.kh;
    p.w = width / p.kw;
    if (p.h == 0 || p.w == 0) return std::nullopt;
    return p;
}

/// Builds the rewrite's layers next to `conv`; each new value gets its dtype and shape.
class PatchifyBuilder {
public:
    PatchifyBuilder(Graph& graph, const Node& conv) : mGraph(graph), mConv(conv), mType(conv.input(0)->dtype) {}

    Value* reshape(Value* in, const std::vector<int64_t>& target, SymShape shape, const char* what) {
        Value* dims = mGraph.addConstant(mGraph.uniqueValueName(mConv.name + "_" + what + "_shape"),
                                         Tensor::fromInt64(target, {static_cast<int64_t>(target.size())}));
        return layer("Reshape", {in, dims}, std::move(shape), what);
    }

    Value* transpose(Value* in, const std::vector<int64_t>& perm, SymShape shape, const char* what) {
        Value* out = layer("Transpose", {in}, std::move(shape), what);
        out->producer->attrs.set("perm", perm);
        return out;
    }

    Value* layer(const char* opType, std::vector<Value*> inputs, SymShape shape, const char* what) {
        Node* n = mGraph.addNode(opType, mConv.name + "_" + what, std::move(inputs), {}, 1);
        n->sourceNodes = mConv.sourceNodes;
        Value* out = n->outputs[0];
        out->dtype = mType;
        out->shape = std::move(shape);
        out->typeKnown = true;
        return out;
    }

private:
    Graph& mGraph;
    const Node& mConv;
    DataType mType;
};

/// ViT's flattening of the patch grid into tokens, Reshape [N, K, h*w] then Transpose (0, 2, 1),
/// when it alone reads `convOut`: the tokens [N, h*w, K] are then the GEMM's own output.
Node* tokenFlattening(const Uses& uses, const Value* convOut, const Patchify& p) {
    Node* flatten = uses.soleReaderIs(convOut, "Reshape");
    if (!flatten) return nullptr;
    // A Reshape keeps the element order, so its output shape alone says what it does; with the
    // last two extents K and h*w the element count forces the first to be the batch.
    const Value* grid = flatten->output(0);
    if (!grid || !grid->typeKnown || grid->shape.size() != 3 || grid->shape[1] != Dim(p.outChannels) ||
        grid->shape[2] != Dim(p.h * p.w))
        return nullptr;
    Node* transpose = uses.soleReaderIs(grid, "Transpose");
    if (!transpose || transpose->attrs.getInts("perm", {}) != std::vector<int64_t>{0, 2, 1}) return nullptr;
    return transpose;
}

}  // namespace

Expected<bool> PatchConvToMatMul::run(Graph& graph, PassContext& ctx) {
    Uses uses(graph);
    std::unordered_set<const Node*> removed;
    std::vector<std::pair<Node*, Patchify>> convs;
    for (const auto& n : graph.nodes()) {
        if (auto p = matchPatchify(*n)) convs.emplace_back(n.get(), *p);
    }
    for (auto& [conv, p] : convs) {
        // Batch normalization folds into a Conv it directly follows (a later pass): keep that edge.
        if (uses.soleReaderIs(conv->output(0), "BatchNormalization")) continue;
        const int64_t depth = p.channels * p.kh * p.kw;
        PatchifyBuilder b(graph, *conv);
        // -1 leaves the batch to the element count (the other extents are static and non-zero).
        Value* split = b.reshape(conv->input(0), {-1, p.channels, p.h, p.kh, p.w, p.kw},
                                 {p.batch, p.channels, p.h, p.kh, p.w, p.kw}, "patch_split");
        Value* patches = b.transpose(split, {0, 2, 4, 1, 3, 5}, {p.batch, p.h, p.w, p.channels, p.kh, p.kw}, "patch_gather");
        Value* rows = b.reshape(patches, {-1, p.h * p.w, depth}, {p.batch, p.h * p.w, depth}, "patch_rows");
        Value* weights = graph.addConstant(graph.uniqueValueName(conv->input(1)->name + "_patch_gemm"),
                                           transposedMatrix(*conv->input(1)->constant));
        Value* product = b.layer("MatMul", {rows, weights}, {p.batch, p.h * p.w, p.outChannels}, "patch_matmul");
        if (conv->hasInput(2))
            product = b.layer("Add", {product, conv->input(2)}, {p.batch, p.h * p.w, p.outChannels}, "patch_bias");
        if (Node* tokens = tokenFlattening(uses, conv->output(0), p)) {
            // The layer computing the GEMM's result produces the tokens value in place of a new one.
            Node* last = product->producer;
            last->outputs[0] = tokens->output(0);
            tokens->output(0)->producer = last;
            tokens->output(0)->producerOutput = 0;
            Node* flatten = tokens->input(0)->producer;
            for (const Node* n : {flatten, tokens})
                last->sourceNodes.insert(last->sourceNodes.end(), n->sourceNodes.begin(), n->sourceNodes.end());
            removed.insert({conv, flatten, tokens});
            ctx.record("rewrote " + conv->describe() + ", " + flatten->describe() + " and " + tokens->describe() +
                       " as a MatMul over " + std::to_string(p.h * p.w) + " patches per image");
            continue;
        }
        Value* grid = b.reshape(product, {-1, p.h, p.w, p.outChannels}, {p.batch, p.h, p.w, p.outChannels}, "patch_grid");
        Node* back = addReplacementNode(graph, "Transpose", "", {grid}, {conv->output(0)}, {conv});
        back->attrs.set("perm", std::vector<int64_t>{0, 3, 1, 2});
        removed.insert(conv);
        ctx.record("rewrote " + conv->describe() + " (" + std::to_string(p.kh) + "x" + std::to_string(p.kw) +
                   " patches) as a MatMul over " + std::to_string(p.h * p.w) + " patches per image");
    }
    if (removed.empty()) return false;
    KILN_RETURN_IF_ERROR(finishRewrite(graph, removed));
    return true;
}

}  // namespace kiln
