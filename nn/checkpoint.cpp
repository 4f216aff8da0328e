/*
 * checkpoint.cpp: Checkpoint <-> one safetensors file (layout in checkpoint.h).
 */
#include "nn/checkpoint.h"

#include <cerrno>
#include <cstdlib>
#include <type_traits>

#include "nn/safetensors.h"

namespace gesso::nn {

namespace {

constexpr const char* kFormat = "gesso-checkpoint-1";

void add_prefixed(StateDict& out, const StateDict& part, const std::string& prefix) {
  for (const auto& [name, tensor] : part) out.emplace(prefix + name, tensor);
}

const std::string& required_metadata(const std::map<std::string, std::string>& meta, const std::string& key,
                                     const std::string& path) {
  auto it = meta.find(key);
  GESSO_CHECK(it != meta.end(), "load_checkpoint: '", path, "' is a gesso checkpoint without the '", key,
              "' metadata entry: the file is corrupt");
  return it->second;
}

template <class Int>
Int parse_integer(const std::string& text, const std::string& key, const std::string& path) {
  errno = 0;
  char* end = nullptr;
  Int value;
  if constexpr (std::is_signed_v<Int>) value = std::strtoll(text.c_str(), &end, 10);
  else value = std::strtoull(text.c_str(), &end, 10);
  bool ok = !text.empty() && errno == 0 && end == text.c_str() + text.size() &&
            (std::is_signed_v<Int> || text[0] != '-');
  GESSO_CHECK(ok, "load_checkpoint: '", path, "': metadata '", key, "' must be a decimal integer, got '", text, "'");
  return value;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  StateDict all;
  add_prefixed(all, checkpoint.model, "model.");
  add_prefixed(all, checkpoint.optimizer, "optim.");
  add_prefixed(all, checkpoint.extra, "extra.");
  std::map<std::string, std::string> meta{
      {"gesso.format", kFormat},
      {"gesso.step", std::to_string(checkpoint.step)},
      {"gesso.rng_seed", std::to_string(checkpoint.rng.seed)},
      {"gesso.rng_offset", std::to_string(checkpoint.rng.offset)},
      {"gesso.config", checkpoint.config.dump()},
  };
  save_safetensors(path, all, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsFile file = load_safetensors(path);
  auto format = file.metadata.find("gesso.format");
  GESSO_CHECK(format != file.metadata.end(), "load_checkpoint: '", path,
              "' is a safetensors file but not a gesso checkpoint (no 'gesso.format' metadata); "
              "plain weight files are loaded with load_safetensors");
  GESSO_CHECK(format->second == kFormat, "load_checkpoint: '", path, "' has checkpoint format '", format->second,
              "', expected '", kFormat, "'");
  Checkpoint out;
  out.step = parse_integer<long long>(required_metadata(file.metadata, "gesso.step", path), "gesso.step", path);
  out.rng.seed = parse_integer<unsigned long long>(required_metadata(file.metadata, "gesso.rng_seed", path),
                                                   "gesso.rng_seed", path);
  out.rng.offset = parse_integer<unsigned long long>(required_metadata(file.metadata, "gesso.rng_offset", path),
                                                     "gesso.rng_offset", path);
  const std::string& config = required_metadata(file.metadata, "gesso.config", path);
  try {
    out.config = nlohmann::json::parse(config);
  } catch (const nlohmann::json::parse_error& e) {
    fail("load_checkpoint: '", path, "': metadata 'gesso.config' is not valid JSON (", e.what(), ")");
  }
  for (auto& [name, tensor] : file.tensors) {
    auto starts = [&](const char* p) { return name.compare(0, std::char_traits<char>::length(p), p) == 0; };
    if (starts("model.")) out.model.emplace(name.substr(6), std::move(tensor));
    else if (starts("optim.")) out.optimizer.emplace(name.substr(6), std::move(tensor));
    else if (starts("extra.")) out.extra.emplace(name.substr(6), std::move(tensor));
    else fail("load_checkpoint: '", path, "': tensor '", name,
              "' has none of the prefixes 'model.', 'optim.', 'extra.' of a gesso checkpoint");
  }
  return out;
}

}  // namespace gesso::nn
