/*
 * safetensors.cpp: the safetensors reader and writer (format in safetensors.h).
 * Reading checks the header completely before any data is read, then reads
 * each tensor straight into its storage with one seek and one fread, so a
 * large weights file is never held twice in memory.
 */
#include "nn/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "tensor/atomic_file.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; this reader copies bytes as they are");

namespace gesso::nn {

namespace {

using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;

// Headers of real files are a few hundred kB at most; a larger length field
// means a corrupt or foreign file, and reading it would just waste memory.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

size_t file_dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

const char* file_dtype_of(DType t) { return t == DType::f32 ? "F32" : "F64"; }

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: shift until the leading 1 reaches the implicit bit.
    int e = -1;
    do { ++e; mantissa <<= 1; } while ((mantissa & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct FileCloser {
  void operator()(std::FILE* f) const { if (f) std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

struct ParsedHeader {
  std::vector<TensorInfo> tensors;  // sorted by data_begin
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // absolute file offset of the data section
};

// Opens `path` and reads and validates its header; `who` names the caller.
ParsedHeader parse_header(const std::string& path, const char* who, FilePtr& file) {
  std::error_code ec;
  GESSO_CHECK(std::filesystem::exists(path, ec), who, ": no such file '", path, "'");
  GESSO_CHECK(!std::filesystem::is_directory(path, ec), who, ": '", path,
              "' is a directory, expected a safetensors file");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  GESSO_CHECK(!ec, who, ": cannot read the size of '", path, "' (", ec.message(), ")");
  file.reset(std::fopen(path.c_str(), "rb"));
  GESSO_CHECK(file != nullptr, who, ": cannot open '", path, "' (", std::strerror(errno), ")");
  GESSO_CHECK(file_size >= 8, who, ": '", path, "' is not a safetensors file: it is ", file_size,
              " bytes long, shorter than the 8-byte header length field");

  unsigned char len_bytes[8];
  GESSO_CHECK(std::fread(len_bytes, 1, 8, file.get()) == 8, who, ": reading '", path, "' failed");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  GESSO_CHECK(header_len <= file_size - 8, who, ": '", path, "' is truncated or not a safetensors file: its header length field says ",
              header_len, " bytes but only ", file_size - 8, " bytes follow it");
  GESSO_CHECK(header_len <= kMaxHeaderBytes, who, ": '", path, "' has a ", header_len,
              "-byte header, more than the ", kMaxHeaderBytes, " bytes any safetensors header may have: the file is corrupt");

  std::string text(header_len, '\0');
  GESSO_CHECK(std::fread(text.data(), 1, header_len, file.get()) == header_len, who, ": reading the header of '",
              path, "' failed");
  json header;
  try {
    header = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(who, ": the header of '", path, "' is not valid JSON (", e.what(), ")");
  }
  GESSO_CHECK(header.is_object(), who, ": the header of '", path, "' must be a JSON object, got a JSON ",
              header.type_name());

  ParsedHeader out;
  out.data_start = 8 + header_len;
  const uint64_t data_size = file_size - out.data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      GESSO_CHECK(entry.is_object(), who, ": '", path, "': __metadata__ must be an object of strings, got a JSON ",
                  entry.type_name());
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        GESSO_CHECK(m.value().is_string(), who, ": '", path, "': __metadata__ value of '", m.key(),
                    "' must be a string, got a JSON ", m.value().type_name());
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = str(who, ": '", path, "': tensor '", name, "'");
    GESSO_CHECK(entry.is_object(), where, " must be an object with dtype, shape and data_offsets, got a JSON ",
                entry.type_name());
    GESSO_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), where, " has no string 'dtype'");
    GESSO_CHECK(entry.contains("shape") && entry["shape"].is_array(), where, " has no array 'shape'");
    GESSO_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                    entry["data_offsets"].size() == 2,
                where, " has no 'data_offsets' pair [begin, end]");
    TensorInfo info;
    info.name = name;
    info.dtype = entry["dtype"].get<std::string>();
    const size_t elem = file_dtype_size(info.dtype);
    GESSO_CHECK(elem != 0, where, " has dtype '", info.dtype, "', which gesso cannot read (it reads F32, F64, F16 and BF16)");
    const json& shape = entry["shape"];
    GESSO_CHECK(shape.size() <= static_cast<size_t>(gesso::kernels::kMaxDims), where, " has ", shape.size(),
                " dims; gesso tensors have at most ", gesso::kernels::kMaxDims);
    uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : shape) {
      GESSO_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), where,
                  " has a shape entry that is not a non-negative integer: ", d.dump());
      uint64_t size = d.get<uint64_t>();
      if (size != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / size) overflow = true;
      else numel *= size;
      info.shape.push_back(static_cast<int64_t>(size));
    }
    GESSO_CHECK(!overflow, where, " has an impossibly large shape ", shape.dump());
    for (const json& o : entry["data_offsets"])
      GESSO_CHECK(o.is_number_unsigned() || (o.is_number_integer() && o.get<int64_t>() >= 0), where,
                  " has a data offset that is not a non-negative integer: ", o.dump());
    info.data_begin = entry["data_offsets"][0].get<uint64_t>();
    info.data_end = entry["data_offsets"][1].get<uint64_t>();
    GESSO_CHECK(info.data_begin <= info.data_end, where, " has data_offsets [", info.data_begin, ", ",
                info.data_end, "] that end before they begin");
    const uint64_t expected = numel * elem;
    GESSO_CHECK(info.data_end - info.data_begin == expected, where, " has shape ", info.shape, " of ", info.dtype,
                ", which needs ", expected, " bytes, but its data_offsets [", info.data_begin, ", ", info.data_end,
                "] span ", info.data_end - info.data_begin, " bytes");
    GESSO_CHECK(info.data_end <= data_size, where, " has data_offsets [", info.data_begin, ", ", info.data_end,
                "] but the data section holds only ", data_size, " bytes: the file is truncated or the header is corrupt");
    out.tensors.push_back(std::move(info));
  }

  std::sort(out.tensors.begin(), out.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.name < b.name;
  });
  // After sorting by start, two non-empty ranges overlap exactly when one
  // starts before the furthest end seen so far.
  const TensorInfo* furthest = nullptr;
  for (const TensorInfo& t : out.tensors) {
    if (t.data_begin == t.data_end) continue;
    if (furthest)
      GESSO_CHECK(t.data_begin >= furthest->data_end, who, ": '", path, "': the data of tensors '", furthest->name,
                  "' [", furthest->data_begin, ", ", furthest->data_end, "] and '", t.name, "' [", t.data_begin, ", ",
                  t.data_end, "] overlap: the header is corrupt");
    if (!furthest || t.data_end > furthest->data_end) furthest = &t;
  }
  return out;
}

}  // namespace

std::vector<TensorInfo> read_safetensors_header(const std::string& path,
                                                std::map<std::string, std::string>* metadata) {
  FilePtr file;
  ParsedHeader h = parse_header(path, "read_safetensors_header", file);
  if (metadata) *metadata = std::move(h.metadata);
  return std::move(h.tensors);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const char* who = "load_safetensors";
  FilePtr file;
  ParsedHeader h = parse_header(path, who, file);
  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  std::vector<uint16_t> half;
  for (const TensorInfo& info : h.tensors) {
    const bool wide = info.dtype == "F64";
    Tensor t = Tensor::empty(info.shape, TensorOptions(wide ? DType::f64 : DType::f32));
    const uint64_t bytes = info.data_end - info.data_begin;
    if (bytes > 0) {
      GESSO_CHECK(fseeko(file.get(), static_cast<off_t>(h.data_start + info.data_begin), SEEK_SET) == 0, who,
                  ": seeking in '", path, "' failed (", std::strerror(errno), ")");
      void* dest = t.raw_data();
      if (info.dtype == "F16" || info.dtype == "BF16") {
        half.resize(static_cast<size_t>(t.numel()));
        dest = half.data();
      }
      size_t got = std::fread(dest, 1, bytes, file.get());
      GESSO_CHECK(got == bytes, who, ": '", path, "': the data section is truncated: tensor '", info.name,
                  "' needs ", bytes, " bytes at data offset ", info.data_begin, " but only ", got, " could be read");
      if (dest == half.data()) {
        float* f = t.data<float>();
        const bool is_half = info.dtype == "F16";
        for (size_t i = 0; i < half.size(); ++i) f[i] = is_half ? half_to_float(half[i]) : bfloat16_to_float(half[i]);
      }
    }
    out.tensors.emplace(info.name, std::move(t));
  }
  return out;
}

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const char* who = "save_safetensors";
  // Everything that can fail on the tensors fails before the file is opened.
  std::vector<std::pair<const std::string*, Tensor>> host;
  host.reserve(tensors.size());
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json meta = ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    GESSO_CHECK(!name.empty(), who, ": tensor names must not be empty (writing '", path, "')");
    GESSO_CHECK(name != "__metadata__", who, ": '__metadata__' is reserved and cannot name a tensor (writing '",
                path, "')");
    GESSO_CHECK(tensor.defined(), who, ": tensor '", name, "' is undefined (writing '", path, "')");
    Tensor t = tensor.detach();
    if (t.device() != Device::cpu) t = t.to(Device::cpu);
    t = t.contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    ordered_json entry = ordered_json::object();
    entry["dtype"] = file_dtype_of(t.dtype());
    entry["shape"] = t.shape();
    entry["data_offsets"] = {offset, offset + bytes};
    header[name] = std::move(entry);
    offset += bytes;
    host.emplace_back(&name, std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

  write_file_atomically(
      path,
      [&](std::FILE* f) {
        write_bytes(f, len_bytes, 8, path, who);
        write_bytes(f, text.data(), text.size(), path, who);
        for (const auto& entry : host)
          write_bytes(f, entry.second.raw_data(), entry.second.numel() * dtype_size(entry.second.dtype()), path, who);
      },
      who);
}

}  // namespace gesso::nn
