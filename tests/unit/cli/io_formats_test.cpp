#include "io_formats.h"

#include <gtest/gtest.h>

namespace kiln::cli {
namespace {

TEST(IoFormats, ParsesTrtexecGrammar) {
    auto formats = parseIoFormats("--inputIOFormats", "fp32:chw,int32:chw+hwc8,fp16:chw16");
    ASSERT_TRUE(formats.isOk()) << formats.status().message();
    ASSERT_EQ(formats->size(), 3u);
    EXPECT_EQ((*formats)[0].dtype, DataType::kFLOAT);
    EXPECT_EQ((*formats)[1].dtype, DataType::kINT32);
    EXPECT_EQ((*formats)[1].formats, (std::vector<std::string>{"chw", "hwc8"}));
    EXPECT_EQ((*formats)[2].dtype, DataType::kHALF);
}

TEST(IoFormats, MalformedValuesNameTheFlagAndThePart) {
    const std::pair<const char*, const char*> cases[] = {
        {"fp32", "fp32"}, {"fp33:chw", "fp33"}, {"fp32:chw7", "chw7"}, {"fp32:chw,", "''"}, {"fp32:", "''"}};
    for (const auto& [text, part] : cases) {
        auto formats = parseIoFormats("--outputIOFormats", text);
        ASSERT_FALSE(formats.isOk()) << text;
        EXPECT_NE(formats.status().message().find("--outputIOFormats"), std::string::npos) << text;
        if (std::string(part) != "''") EXPECT_NE(formats.status().message().find(part), std::string::npos) << text;
    }
}

TEST(IoFormats, CheckAgainstTheTensors) {
    const std::vector<std::pair<std::string, DataType>> tensors = {{"image", DataType::kFLOAT},
                                                                   {"ids", DataType::kINT64}};
    auto resolve = [&](const std::string& text) {
        auto formats = parseIoFormats("--inputIOFormats", text);
        EXPECT_TRUE(formats.isOk()) << text;
        return resolveIoFormats("--inputIOFormats", formats.value(), tensors);
    };
    auto none = resolveIoFormats("--inputIOFormats", {}, tensors);
    ASSERT_TRUE(none.isOk());
    EXPECT_TRUE(none->empty());
    auto same = resolve("fp32:chw,int64:chw");
    ASSERT_TRUE(same.isOk());
    EXPECT_TRUE(same->empty());
    EXPECT_TRUE(resolve("fp32:hwc8+chw,int64:chw").isOk());
    // A float tensor bound as another float type: returned for the builder to convert.
    auto half = resolve("fp16:chw,int64:chw");
    ASSERT_TRUE(half.isOk()) << half.status().message();
    ASSERT_EQ(half->size(), 1u);
    EXPECT_EQ((*half)[0].first, "image");
    EXPECT_EQ((*half)[0].second, DataType::kHALF);
    // One entry for all: here the types differ, so the int64 tensor refuses fp32.
    auto broadcast = resolve("fp32:chw");
    ASSERT_FALSE(broadcast.isOk());
    EXPECT_NE(broadcast.status().message().find("'ids'"), std::string::npos);
    auto type = resolve("fp32:chw,int32:chw");
    ASSERT_FALSE(type.isOk());
    EXPECT_EQ(type.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(type.status().message().find("'ids'"), std::string::npos);
    auto format = resolve("fp32:hwc8,int64:chw");
    ASSERT_FALSE(format.isOk());
    EXPECT_NE(format.status().message().find("chw"), std::string::npos);
    auto count = resolve("fp32:chw,int64:chw,fp32:chw");
    ASSERT_FALSE(count.isOk());
    EXPECT_NE(count.status().message().find("3 formats for 2"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
