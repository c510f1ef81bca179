// String tensors and the string ops: Cast/CastLike to and from strings, Equal on strings,
// StringConcat, StringSplit, StringNormalizer, RegexFullMatch and ai.onnx.ml LabelEncoder, each
// against references written here from the ONNX definitions (Python's str methods for split).

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "tensor_test_helpers.h"

namespace kiln::test {
namespace {

Tensor strings(const std::vector<std::string>& values, Shape shape) {
    return Tensor::fromStrings(std::vector<std::string_view>(values.begin(), values.end()), std::move(shape));
}
Tensor stringVector(const std::vector<std::string>& values) {
    return strings(values, {static_cast<int64_t>(values.size())});
}
std::vector<std::string> contents(const Tensor& t) {
    std::vector<std::string> out;
    for (std::string_view s : t.strings()) out.emplace_back(s);
    return out;
}
AttributeMap castTo(int64_t onnxType) {
    AttributeMap attrs;
    attrs.set("to", onnxType);
    return attrs;
}

/// Random printable strings of 0..8 characters, some with UTF-8 sequences and spaces.
std::vector<std::string> randomStrings(size_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    static const std::vector<std::string> pieces = {"a", "B", "z", " ", "\xc3\xa9", "\xe2\x82\xac", "7", "_", "Q"};
    std::vector<std::string> out(count);
    for (std::string& s : out) {
        size_t n = rng() % 9;
        for (size_t k = 0; k < n; ++k) s += pieces[rng() % pieces.size()];
    }
    return out;
}

TEST(StringTensor, OwnsItsBytesAndClonesDeeply) {
    Tensor t = strings({"alpha", "", "\xe2\x82\xac uro", "z"}, {2, 2});
    EXPECT_EQ(t.dtype(), DataType::kSTRING);
    EXPECT_EQ(t.byteSize(), 4 * sizeof(StringView));
    Tensor copy = t.clone();
    t = Tensor();  // the clone must not point into the released storage
    EXPECT_EQ(contents(copy), (std::vector<std::string>{"alpha", "", "\xe2\x82\xac uro", "z"}));
    EXPECT_EQ(copy.shape(), (Shape{2, 2}));
}

TEST(StringCast, FloatToStringReadsBackExactly) {
    Tensor x = randomTensor(DataType::kFLOAT, {5, 7}, -1000, 1000, 3);
    x.data<float>()[0] = 1.0f;
    x.data<float>()[1] = 0.039187793f;
    x.data<float>()[2] = 1e-20f;
    x.data<float>()[3] = NAN;
    x.data<float>()[4] = INFINITY;
    x.data<float>()[5] = -INFINITY;
    x.data<float>()[6] = -2.5f;
    SingleNodeRun run = runOp("Cast", {&x}, castTo(8));
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].dtype(), DataType::kSTRING);
    std::vector<std::string> out = contents(run.outputs[0]);
    EXPECT_EQ(out[0], "1.0");
    EXPECT_EQ(out[1], "0.039187793");
    EXPECT_EQ(out[2], "1e-20");
    EXPECT_EQ(out[3], "nan");
    EXPECT_EQ(out[4], "inf");
    EXPECT_EQ(out[5], "-inf");
    EXPECT_EQ(out[6], "-2.5");
    for (size_t i = 7; i < out.size(); ++i) {
        // Reads back (strtof, independent of the kernel) to the same float, in at most 9 digits.
        EXPECT_EQ(std::strtof(out[i].c_str(), nullptr), x.data<float>()[i]) << out[i];
        size_t digits = 0;
        for (char c : out[i]) digits += (c >= '0' && c <= '9');
        EXPECT_LE(digits, 10u) << out[i];
    }
}

TEST(StringCast, IntegersAndBoolsToString) {
    Tensor ints = int64Vector({0, -7, 1234567890123, INT64_MIN});
    SingleNodeRun run = runOp("Cast", {&ints}, castTo(8));
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(contents(run.outputs[0]), (std::vector<std::string>{"0", "-7", "1234567890123", "-9223372036854775808"}));
    Tensor bools = Tensor::allocate(DataType::kBOOL, {2});
    bools.data<bool>()[0] = true;
    run = runOp("Cast", {&bools}, castTo(8));
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(contents(run.outputs[0]), (std::vector<std::string>{"True", "False"}));
}

TEST(StringCast, StringToNumbers) {
    Tensor x = stringVector({"0.47892547", " -3.25e2 ", "+7", "INF", "-inf", "NaN", "1e400", "-0"});
    SingleNodeRun run = runOp("Cast", {&x}, castTo(1));  // float
    ASSERT_TRUE(run.status) << run.status.message();
    const float* f = run.outputs[0].data<float>();
    EXPECT_EQ(f[0], 0.47892547f);
    EXPECT_EQ(f[1], -325.0f);
    EXPECT_EQ(f[2], 7.0f);
    EXPECT_EQ(f[3], INFINITY);
    EXPECT_EQ(f[4], -INFINITY);
    EXPECT_TRUE(std::isnan(f[5]));
    EXPECT_EQ(f[6], INFINITY);
    EXPECT_TRUE(f[7] == 0 && std::signbit(f[7]));

    Tensor ints = stringVector({"42", "-9223372036854775808", "1e3", " 12 "});
    run = runOp("Cast", {&ints}, castTo(7));  // int64
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].toInt64Vector(), (std::vector<int64_t>{42, INT64_MIN, 1000, 12}));

    Tensor doubles = stringVector({"0.1", "2.5e-300"});
    run = runOp("Cast", {&doubles}, castTo(11));  // double
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].data<double>()[0], 0.1);
    EXPECT_EQ(run.outputs[0].data<double>()[1], 2.5e-300);
}

TEST(StringCast, UnreadableStringsAreErrors) {
    for (const char* bad : {"abc", "1.5x", "", "--1"}) {
        Tensor x = stringVector({"1", bad});
        SingleNodeRun run = runOp("Cast", {&x}, castTo(1));
        EXPECT_FALSE(run.status) << bad;
        EXPECT_NE(run.status.message().find("cannot read"), std::string::npos) << run.status.message();
    }
    Tensor big = stringVector({"300"});
    SingleNodeRun run = runOp("Cast", {&big}, castTo(3));  // int8
    EXPECT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("outside the range"), std::string::npos) << run.status.message();
}

TEST(StringCast, CastLikeTakesTheTargetFromItsSecondInput) {
    Tensor x = randomTensor(DataType::kDOUBLE, {6}, -5, 5, 9);
    Tensor like = stringVector({"unused"});
    SingleNodeRun run = runOp("CastLike", {&x, &like});
    ASSERT_TRUE(run.status) << run.status.message();
    std::vector<std::string> out = contents(run.outputs[0]);
    for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(std::strtod(out[i].c_str(), nullptr), x.data<double>()[i]);
    Tensor back = Tensor::allocate(DataType::kDOUBLE, {1});
    SingleNodeRun again = runOp("CastLike", {&run.outputs[0], &back});
    ASSERT_TRUE(again.status) << again.status.message();
    for (int64_t i = 0; i < x.elementCount(); ++i) EXPECT_EQ(again.outputs[0].data<double>()[i], x.data<double>()[i]);
}

TEST(StringEqual, ComparesBytesWithBroadcasting) {
    std::vector<std::string> a = randomStrings(12, 5), b = randomStrings(4, 6);
    b[1] = a[1];
    b[2] = a[6];
    Tensor ta = strings(a, {3, 4}), tb = strings(b, {4});
    SingleNodeRun run = runOp("Equal", {&ta, &tb});
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].dtype(), DataType::kBOOL);
    ASSERT_EQ(run.outputs[0].shape(), (Shape{3, 4}));
    std::vector<double> ref;
    for (size_t i = 0; i < 12; ++i) ref.push_back(a[i] == b[i % 4]);
    expectExact(run.outputs[0], ref);
}

TEST(StringConcat, JoinsWithBroadcasting) {
    std::vector<std::string> a = randomStrings(6, 1), b = randomStrings(2, 2);
    Tensor ta = strings(a, {2, 1, 3}), tb = strings(b, {2, 1});
    SingleNodeRun run = runOp("StringConcat", {&ta, &tb});
    ASSERT_TRUE(run.status) << run.status.message();
    ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 2, 3}));
    std::vector<std::string> out = contents(run.outputs[0]);
    for (int64_t i = 0; i < 12; ++i) {
        std::vector<int64_t> idx = unravel(i, {2, 2, 3});
        EXPECT_EQ(out[static_cast<size_t>(i)], a[static_cast<size_t>(idx[0] * 3 + idx[2])] + b[static_cast<size_t>(idx[1])]);
    }
    Tensor s0 = strings({"x"}, {}), s1 = strings({""}, {});
    run = runOp("StringConcat", {&s0, &s1});
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].shape(), Shape{});
    EXPECT_EQ(contents(run.outputs[0]), std::vector<std::string>{"x"});
}

/// Python's str.split, written from its documentation.
std::vector<std::string> pythonSplit(const std::string& s, const std::string& sep, int64_t maxsplit) {
    std::vector<std::string> out;
    if (!sep.empty()) {
        std::string rest = s;
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            size_t at = rest.find(sep);
            if (at == std::string::npos) break;
            out.push_back(rest.substr(0, at));
            rest = rest.substr(at + sep.size());
        }
        out.push_back(rest);
        return out;
    }
    std::string word;
    size_t i = 0;
    auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
    while (i < s.size()) {
        if (isSpace(s[i])) {
            ++i;
            continue;
        }
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
            out.push_back(s.substr(i));
            return out;
        }
        size_t j = i;
        while (j < s.size() && !isSpace(s[j])) ++j;
        out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

TEST(StringSplit, MatchesPythonSplitForEveryForm) {
    const std::vector<std::string> inputs = {"a,b,,c", "", ",", "no delimiter", "  lead and trail  ", "x,,y,z,",
                                             "one  two\tthree", "\xc3\xa9,\xe2\x82\xac"};
    for (const std::string& delimiter : {std::string(","), std::string(",,"), std::string("")}) {
        for (int64_t maxsplit : {int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{2}}) {
            Tensor x = strings(inputs, {2, 4});
            AttributeMap attrs;
            if (!delimiter.empty()) attrs.set("delimiter", delimiter);
            if (maxsplit >= 0) attrs.set("maxsplit", maxsplit);
            SingleNodeRun run = runOp("StringSplit", {&x}, attrs, 2);
            const std::string what = "delimiter '" + delimiter + "' maxsplit " + std::to_string(maxsplit);
            ASSERT_TRUE(run.status) << what << ": " << run.status.message();
            size_t width = 0;
            std::vector<std::vector<std::string>> ref;
            for (const std::string& s : inputs) {
                ref.push_back(pythonSplit(s, delimiter, maxsplit));
                width = std::max(width, ref.back().size());
            }
            ASSERT_EQ(run.outputs[0].shape(), (Shape{2, 4, static_cast<int64_t>(width)})) << what;
            ASSERT_EQ(run.outputs[1].shape(), (Shape{2, 4})) << what;
            std::vector<std::string> y = contents(run.outputs[0]);
            for (size_t e = 0; e < inputs.size(); ++e) {
                EXPECT_EQ(run.outputs[1].data<int64_t>()[e], static_cast<int64_t>(ref[e].size())) << what;
                for (size_t k = 0; k < width; ++k)
                    EXPECT_EQ(y[e * width + k], k < ref[e].size() ? ref[e][k] : "") << what << " element " << e;
            }
        }
    }
}

TEST(StringSplit, EmptyTensor) {
    Tensor x = strings({}, {0});
    SingleNodeRun run = runOp("StringSplit", {&x}, {}, 2);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].shape(), (Shape{0, 0}));
    EXPECT_EQ(run.outputs[1].shape(), (Shape{0}));
}

TEST(StringNormalizer, StopwordsAndCaseChanges) {
    const std::vector<std::string> words = {"monday", "tuesday", "Wednesday", "MONDAY", "thursday"};
    struct Case {
        std::string action;
        bool caseSensitive;
        std::vector<std::string> expected;
    };
    const std::vector<Case> cases = {
        {"NONE", true, {"tuesday", "Wednesday", "MONDAY", "thursday"}},
        {"LOWER", true, {"tuesday", "wednesday", "monday", "thursday"}},
        {"UPPER", false, {"TUESDAY", "WEDNESDAY", "THURSDAY"}},
        {"NONE", false, {"tuesday", "Wednesday", "thursday"}},
    };
    for (const Case& c : cases) {
        for (const Shape& shape : {Shape{5}, Shape{1, 5}}) {
            Tensor x = strings(words, shape);
            AttributeMap attrs;
            attrs.set("case_change_action", c.action);
            attrs.set("is_case_sensitive", int64_t{c.caseSensitive});
            attrs.set("stopwords", std::vector<std::string>{"monday"});
            SingleNodeRun run = runOp("StringNormalizer", {&x}, attrs);
            ASSERT_TRUE(run.status) << run.status.message();
            Shape expectedShape = shape;
            expectedShape.back() = static_cast<int64_t>(c.expected.size());
            EXPECT_EQ(run.outputs[0].shape(), expectedShape) << c.action;
            EXPECT_EQ(contents(run.outputs[0]), c.expected) << c.action << " " << c.caseSensitive;
        }
    }
}

TEST(StringNormalizer, AllRemovedLeavesOneEmptyStringAndNoStopwordsKeepsTheShape) {
    Tensor x = strings({"a", "A"}, {1, 2});
    AttributeMap attrs;
    attrs.set("stopwords", std::vector<std::string>{"a"});
    SingleNodeRun run = runOp("StringNormalizer", {&x}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].shape(), (Shape{1, 1}));
    EXPECT_EQ(contents(run.outputs[0]), std::vector<std::string>{""});

    AttributeMap upper;
    upper.set("case_change_action", std::string("UPPER"));
    Tensor utf8 = stringVector({"caf\xc3\xa9", "ok"});
    run = runOp("StringNormalizer", {&utf8}, upper);
    ASSERT_TRUE(run.status) << run.status.message();
    // ASCII letters change; the UTF-8 bytes of the accented letter pass unchanged.
    EXPECT_EQ(contents(run.outputs[0]), (std::vector<std::string>{"CAF\xc3\xa9", "OK"}));

    AttributeMap bad;
    bad.set("case_change_action", std::string("TITLE"));
    run = runOp("StringNormalizer", {&utf8}, bad);
    EXPECT_FALSE(run.status);
}

TEST(RegexFullMatch, MatchesTheWholeString) {
    Tensor x = stringVector({"www.google.com", "www.facebook.com", "www.bbc.co.uk", "xwww.a.com", ""});
    AttributeMap attrs;
    attrs.set("pattern", std::string(R"(www\.[\w.-]+\.\bcom\b)"));
    SingleNodeRun run = runOp("RegexFullMatch", {&x}, attrs);
    ASSERT_TRUE(run.status) << run.status.message();
    expectExact(run.outputs[0], {1, 1, 0, 0, 0});

    attrs.set("pattern", std::string("(unclosed"));
    run = runOp("RegexFullMatch", {&x}, attrs);
    EXPECT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("pattern"), std::string::npos) << run.status.message();
}

constexpr const char* kMl = "ai.onnx.ml";

TEST(LabelEncoder, EveryListFormAndDefaults) {
    Tensor words = stringVector({"b", "zz", "a", "c", "a"});
    AttributeMap toInt;
    toInt.set("keys_strings", std::vector<std::string>{"a", "b", "c"});
    toInt.set("values_int64s", std::vector<int64_t>{10, 20, 30});
    SingleNodeRun run = runSingleNode("LabelEncoder", {&words}, 1, toInt, kMl);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].toInt64Vector(), (std::vector<int64_t>{20, -1, 10, 30, 10}));  // default -1
    toInt.set("default_int64", int64_t{7});
    run = runSingleNode("LabelEncoder", {&words}, 1, toInt, kMl);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].toInt64Vector(), (std::vector<int64_t>{20, 7, 10, 30, 10}));

    Tensor ids = int64Vector({3, 1, 4, 1, 5});
    AttributeMap toString;
    toString.set("keys_int64s", std::vector<int64_t>{1, 3});
    toString.set("values_strings", std::vector<std::string>{"one", "three"});
    run = runSingleNode("LabelEncoder", {&ids}, 1, toString, kMl);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(contents(run.outputs[0]), (std::vector<std::string>{"three", "one", "_Unused", "one", "_Unused"}));

    Tensor floats = Tensor::allocate(DataType::kFLOAT, {3});
    floats.data<float>()[0] = 0.5f;
    floats.data<float>()[1] = -0.0f;  // matches the key 0.0
    floats.data<float>()[2] = 2.0f;
    AttributeMap f2f;
    f2f.set("keys_floats", std::vector<float>{0.5f, 0.0f});
    f2f.set("values_floats", std::vector<float>{1.5f, 9.0f});
    run = runSingleNode("LabelEncoder", {&floats}, 1, f2f, kMl);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].data<float>()[0], 1.5f);
    EXPECT_EQ(run.outputs[0].data<float>()[1], 9.0f);
    EXPECT_TRUE(run.outputs[0].data<float>()[2] == 0 && std::signbit(run.outputs[0].data<float>()[2]));  // -0.0
}

TEST(LabelEncoder, TensorAttributes) {
    Tensor x = strings({"a", "q", "c", "b"}, {2, 2});
    Tensor values = Tensor::allocate(DataType::kINT16, {3});
    for (int i = 0; i < 3; ++i) values.data<int16_t>()[i] = static_cast<int16_t>(i);
    Tensor fallback = Tensor::allocate(DataType::kINT16, {1});
    fallback.data<int16_t>()[0] = 42;
    AttributeMap attrs;
    attrs.set("keys_tensor", stringVector({"a", "b", "c"}));
    attrs.set("values_tensor", values);
    attrs.set("default_tensor", fallback);
    SingleNodeRun run = runSingleNode("LabelEncoder", {&x}, 1, attrs, kMl);
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(run.outputs[0].dtype(), DataType::kINT16);
    EXPECT_EQ(run.outputs[0].shape(), (Shape{2, 2}));
    EXPECT_EQ(run.outputs[0].toInt64Vector(), (std::vector<int64_t>{0, 42, 2, 1}));
}

TEST(LabelEncoder, MalformedTablesAreErrors) {
    Tensor x = stringVector({"a"});
    AttributeMap twoKeyLists;
    twoKeyLists.set("keys_strings", std::vector<std::string>{"a"});
    twoKeyLists.set("keys_int64s", std::vector<int64_t>{1});
    twoKeyLists.set("values_int64s", std::vector<int64_t>{1});
    EXPECT_FALSE(runSingleNode("LabelEncoder", {&x}, 1, twoKeyLists, kMl).status);
    AttributeMap lengths;
    lengths.set("keys_strings", std::vector<std::string>{"a", "b"});
    lengths.set("values_int64s", std::vector<int64_t>{1});
    SingleNodeRun run = runSingleNode("LabelEncoder", {&x}, 1, lengths, kMl);
    EXPECT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("2 keys but 1 values"), std::string::npos) << run.status.message();
    AttributeMap wrongKeyType;
    wrongKeyType.set("keys_int64s", std::vector<int64_t>{1});
    wrongKeyType.set("values_int64s", std::vector<int64_t>{1});
    EXPECT_FALSE(runSingleNode("LabelEncoder", {&x}, 1, wrongKeyType, kMl).status);
}

TEST(StringTensor, KernelsWithoutStringSupportRefuseThem) {
    Tensor a = stringVector({"1", "2"});
    Tensor repeats = int64Vector({2});
    // Tile's inference accepts any element type; its kernel does not declare strings.
    SingleNodeRun run = runOp("Tile", {&a, &repeats});
    EXPECT_FALSE(run.status);
    EXPECT_NE(run.status.message().find("does not handle string tensors"), std::string::npos) << run.status.message();
    Tensor x = stringVector({"x", "y", "z", "w"});
    Tensor shape = int64Vector({2, 2});
    run = runOp("Reshape", {&x, &shape});
    ASSERT_TRUE(run.status) << run.status.message();
    EXPECT_EQ(contents(run.outputs[0]), (std::vector<std::string>{"x", "y", "z", "w"}));
    EXPECT_EQ(run.outputs[0].shape(), (Shape{2, 2}));
}

}  // namespace
}  // namespace kiln::test
