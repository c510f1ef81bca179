#pragma once
// trtexec's list syntax `name:value[,name:value...]`, shared by --shapes, --loadInputs and friends.
// Tensor names may contain ':' or ',' when quoted: 'Input:0':1x3 or "Input:0":1x3.

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kiln::cli {

struct NameValue {
    std::string name;  // unquoted
    std::string value;
};

enum class ColonRule {
    kFirst,  // name ends at the first ':' outside quotes (values such as file paths may hold ':')
    kLast,   // name ends at the last ':' outside quotes (values such as 1x3 never hold ':')
};

/// Parses every `args` entry (each may be a comma-separated list) into name/value pairs, in order.
/// `flag` ("--shapes") and `example` ("input:1x3x224x224") make the error messages. A name given twice
/// is an error.
Expected<std::vector<NameValue>> parseNameValueList(const std::string& flag, const std::vector<std::string>& args,
                                                    ColonRule rule, const std::string& example);

/// Splits `text` at `separator` where it is not inside quotes; fails on an unterminated quote.
Expected<std::vector<std::string>> splitOutsideQuotes(const std::string& text, char separator);

}  // namespace kiln::cli
