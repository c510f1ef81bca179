#pragma once
// The engine file ("plan") layout, format version 1. All integers are little-endian; strings are a
// u32 byte count followed by the bytes (UTF-8, no terminator); a "count" is a u32.
//
// Header (offsets from the start of the file):
//    0  u8[8]  magic "KILNPLAN"
//    8  u32    format version (kPlanFormatVersion). Read right after the magic: every other field
//              may move in another version, so nothing else is trusted before this matches.
//   12  u32    header size: bytes from offset 0 to the end of the three strings below
//   16  u64    payload offset from the start of the file (>= header size; the writer rounds it up
//              to 64 and the bytes between header and payload are zero)
//   24  u64    payload size; payload offset + payload size is the file size, exactly
//   32  u64    checksum of the payload bytes (planChecksum, plan_checksum.h)
//   40  string Kiln version that wrote the file (must equal this Kiln's: engines are not portable)
//       string backend name ("cpu", "cuda")
//       string target description (Backend::targetDescription(): device, toolkit versions, ...)
//
// Payload (offsets below are from the start of the payload, which the writer places 64-aligned):
//   count  number of sections, then per section: u32 id (PlanSectionId), u32 alignment (a power of
//          two), u64 offset, u64 size. Each section starts at a multiple of its alignment. A reader
//          skips ids it does not know, so a section can be added without breaking older readers; a
//          change that an older reader cannot skip bumps kPlanFormatVersion.
//
// Section "graph" (id 1): one graph record (nested graphs of attributes are records inside it):
//   graph:  string name
//           count values, each: string name, i32 dtype (kiln::DataType's value), u8 typeKnown,
//                   count dims, each: i64 extent (-1 when not known), string symbol;
//                   u8 kind (kiln::ValueKind's value; 0 a tensor), and for a sequence or optional:
//                       i32 element type, u8 hasElementShape, then when 1 its dims as above;
//                   u8 hasConstant, then a tensor reference when 1
//           count graph inputs: the inputs are the first values, in order (the writer puts them
//                   there, so that reading creates them in the graph's input order)
//           count graph outputs, each: u32 value index
//           count nodes (in graph order), each: i32 node id (EnginePlan::layers refers to it),
//                   string name, string op type, string domain,
//                   count inputs, each: u32 value index or kNoValue for an omitted input,
//                   count outputs, each: u32 value index or kNoValue for an omitted output,
//                   count attributes (by name), each: string name, u8 kind (AttributeKind), value:
//                     kInt i64 | kFloat f32 | kString string | kInts count + i64s |
//                     kFloats count + f32s | kStrings count + strings | kTensor tensor reference |
//                     kGraph graph | kGraphs count + graphs
//                   count source nodes, each: string
//   tensor reference: i32 dtype, count dims + i64 each, u64 offset into the weights section
//           (a multiple of kWeightAlignment), u64 byte size (= element count x element size)
//
// Section "weights" (id 2): the bytes of every constant and tensor attribute of every graph, each
//   starting at a multiple of kWeightAlignment (zero padding between). Tensors that shared storage in
//   the built graph share bytes in the file. The reader copies the section into one aligned buffer,
//   and every tensor wraps its part of it.
// Section "profiles" (id 3): count profiles, each: count inputs, each: string name, then the min,
//   opt and max shapes, each: count dims + i64 each.
// Section "layers" (id 4): count entries, each: i32 node id, string tactic, i32 precision (DataType).
// Section "memory" (id 5): count profiles, each: u64 activation bytes.

#include <cstddef>
#include <cstdint>

namespace kiln {

inline constexpr char kPlanMagic[8] = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};
inline constexpr uint32_t kPlanFormatVersion = 5;  // 2: shape-tensor input values in profiles; 3: string constants;
                                                  // 4: generated pointwise code stored as forms (one per shape class);
                                                  // 5: value kinds (sequences and optionals)

// Byte offsets of the fixed header fields.
inline constexpr size_t kPlanVersionOffset = 8;
inline constexpr size_t kPlanHeaderSizeOffset = 12;
inline constexpr size_t kPlanPayloadOffsetOffset = 16;
inline constexpr size_t kPlanPayloadSizeOffset = 24;
inline constexpr size_t kPlanChecksumOffset = 32;
inline constexpr size_t kPlanStringsOffset = 40;
/// The smallest valid header: the fixed fields and three empty strings.
inline constexpr size_t kPlanMinHeaderBytes = kPlanStringsOffset + 3 * sizeof(uint32_t);

inline constexpr size_t kPayloadAlignment = 64;
inline constexpr size_t kWeightAlignment = 64;
inline constexpr size_t kSectionAlignment = 8;
/// One section table entry: id, alignment, offset, size.
inline constexpr size_t kSectionEntryBytes = 4 + 4 + 8 + 8;

/// A value index meaning "no value" (an omitted optional node input or output).
inline constexpr uint32_t kNoValue = 0xFFFFFFFFu;

/// Nested graphs (If/Loop/Scan bodies) deeper than this are refused: a hostile file must not be able
/// to exhaust the stack. Real models nest a handful of levels.
inline constexpr int kMaxGraphNesting = 64;

enum class PlanSectionId : uint32_t {
    kGraph = 1,
    kWeights = 2,
    kProfiles = 3,
    kLayers = 4,
    kMemory = 5,
};

/// The stored kind of an attribute value, one per alternative of AttributeValue.
enum class AttributeKind : uint8_t {
    kInt = 0,
    kFloat = 1,
    kString = 2,
    kInts = 3,
    kFloats = 4,
    kStrings = 5,
    kTensor = 6,
    kGraph = 7,
    kGraphs = 8,
};

}  // namespace kiln
