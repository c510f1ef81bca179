#pragma once
// The definition behind LayerAttributes::Entry (include/kiln/network.h keeps it opaque, so the public
// header carries no IR type): the network definition and graph surgery read the attributes a user set.

#include <string>

#include "ir/attribute.h"
#include "kiln/network.h"

namespace kiln {

struct LayerAttributes::Entry {
    std::string name;
    AttributeValue value;
};

}  // namespace kiln
