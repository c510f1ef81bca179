#pragma once
// The engine file's checksum: a 64-bit hash of the payload, fast enough to run over every load
// (several GB/s), strong enough that any change confined to one 8-byte word is always detected.

#include <cstddef>
#include <cstdint>

namespace kiln {

uint64_t planChecksum(const void* data, size_t size);

}  // namespace kiln
