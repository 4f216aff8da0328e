/*
 * tfjs.cpp: the TensorFlow.js layers-model reader of tfjs.h. Shards are read
 * whole, group by group, and their bytes decoded as little-endian float32
 * explicitly (byte by byte), so the result does not depend on the host's
 * byte order.
 */
#include "style/tfjs.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gesso::style {

namespace {

using nlohmann::json;

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::vector<unsigned char> read_whole(const std::string& path, const std::string& model_json) {
  std::ifstream f(path, std::ios::binary);
  GESSO_CHECK(f.good(), "load_tfjs: weight shard '", path, "' is missing (listed in ", model_json, ")");
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  f.seekg(0, std::ios::beg);
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  f.read(reinterpret_cast<char*>(bytes.data()), size);
  GESSO_CHECK(f.good() || size == 0, "load_tfjs: cannot read weight shard '", path, "'");
  return bytes;
}

const json& member(const json& j, const char* key, const std::string& where, const std::string& file) {
  GESSO_CHECK(j.is_object() && j.contains(key), "load_tfjs: ", file, ": ", where, " has no \"", key, "\"");
  return j.at(key);
}

float le_float(const unsigned char* p) {
  const uint32_t bits = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                        static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

}  // namespace

const TfjsLayer* TfjsModel::find_layer(const std::string& name) const {
  for (const auto& l : layers)
    if (l.name == name) return &l;
  return nullptr;
}

bool TfjsModel::has_weight(const std::string& name) const { return index_.count(name) > 0; }

const Tensor& TfjsModel::weight(const std::string& name) const {
  auto it = index_.find(name);
  GESSO_CHECK(it != index_.end(), "load_tfjs: ", path, " has no weight named '", name, "'");
  return weights[it->second].second;
}

TfjsModel load_tfjs_layers_model(const std::string& model_json) {
  std::ifstream f(model_json);
  GESSO_CHECK(f.good(), "load_tfjs: cannot open '", model_json, "'");
  json root;
  try {
    f >> root;
  } catch (const json::exception& e) {
    fail("load_tfjs: ", model_json, " is not valid JSON (", e.what(), ")");
  }
  TfjsModel model;
  model.path = model_json;
  const std::string fmt = root.value("format", std::string());
  GESSO_CHECK(fmt == "layers-model", "load_tfjs: ", model_json, ": expected \"format\": \"layers-model\", got \"",
              fmt, "\"");

  // ---- topology
  const json& topology = member(root, "modelTopology", "the file", model_json);
  const json& model_config = member(topology, "model_config", "modelTopology", model_json);
  const json& config = member(model_config, "config", "model_config", model_json);
  const json& layers = member(config, "layers", "model_config.config", model_json);
  GESSO_CHECK(layers.is_array(), "load_tfjs: ", model_json, ": model_config.config.layers must be a list");
  for (const json& l : layers) {
    TfjsLayer layer;
    layer.name = member(l, "name", "a layer", model_json).get<std::string>();
    layer.class_name = member(l, "class_name", "layer '" + layer.name + "'", model_json).get<std::string>();
    layer.config = l.value("config", json::object());
    model.layers.push_back(std::move(layer));
  }

  // ---- weights, group by group
  const json& manifest = member(root, "weightsManifest", "the file", model_json);
  GESSO_CHECK(manifest.is_array() && !manifest.empty(), "load_tfjs: ", model_json,
              ": weightsManifest must be a non-empty list");
  const std::string dir = directory_of(model_json);
  for (size_t gi = 0; gi < manifest.size(); ++gi) {
    const json& group = manifest[gi];
    const std::string where = str("weightsManifest[", gi, "]");
    const json& paths = member(group, "paths", where, model_json);
    const json& entries = member(group, "weights", where, model_json);
    GESSO_CHECK(paths.is_array() && entries.is_array(), "load_tfjs: ", model_json, ": ", where,
                " needs lists \"paths\" and \"weights\"");
    std::vector<unsigned char> bytes;
    std::string files;
    for (const json& p : paths) {
      const std::string shard = dir + "/" + p.get<std::string>();
      std::vector<unsigned char> part = read_whole(shard, model_json);
      bytes.insert(bytes.end(), part.begin(), part.end());
      files += (files.empty() ? "" : ", ") + p.get<std::string>();
    }
    // Sizes first, so that a short download is reported as such, not as a bad weight.
    uint64_t needed = 0;
    std::vector<Shape> shapes;
    for (const json& w : entries) {
      const std::string name = member(w, "name", where + " weight", model_json).get<std::string>();
      const std::string dtype = w.value("dtype", std::string("float32"));
      GESSO_CHECK(dtype == "float32", "load_tfjs: ", model_json, ": weight '", name, "' has dtype ", dtype,
                  "; only float32 is read");
      GESSO_CHECK(!w.contains("quantization"), "load_tfjs: ", model_json, ": weight '", name,
                  "' is quantised; only unquantised float32 files are read");
      Shape shape;
      for (const json& d : member(w, "shape", "weight '" + name + "'", model_json)) {
        GESSO_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, "load_tfjs: ", model_json, ": weight '", name,
                    "' has a bad shape ", w.at("shape").dump());
        shape.push_back(d.get<int64_t>());
      }
      needed += static_cast<uint64_t>(numel_of(shape)) * 4;
      shapes.push_back(shape);
    }
    GESSO_CHECK(bytes.size() == needed, "load_tfjs: the shards of ", model_json, " group ", gi + 1, " (", files,
                ") hold ", bytes.size(), " bytes but its ", entries.size(), " float32 weights need ", needed,
                " bytes: ", bytes.size() < needed ? "truncated" : "mismatched", " files (reinstall them)");
    uint64_t offset = 0;
    for (size_t k = 0; k < entries.size(); ++k) {
      const std::string name = entries[k].at("name").get<std::string>();
      GESSO_CHECK(!model.index_.count(name), "load_tfjs: ", model_json, ": weight '", name, "' is listed twice");
      Tensor t = Tensor::empty(shapes[k]);
      float* dst = t.data<float>();
      const int64_t n = t.numel();
      for (int64_t i = 0; i < n; ++i) dst[i] = le_float(bytes.data() + offset + 4 * static_cast<uint64_t>(i));
      offset += static_cast<uint64_t>(n) * 4;
      model.index_[name] = model.weights.size();
      model.weights.emplace_back(name, t);
    }
  }
  return model;
}

}  // namespace gesso::style
