// feature_net.cpp: the layer-name checks and list parsing shared by the feature networks.
#include "style/feature_net.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace gesso::style {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

void FeatureNet::check_layers(const std::vector<std::string>& layers, const char* what) const {
  GESSO_CHECK(!layers.empty(), name(), ": ", what, " is empty; give at least one of: ", joined(layer_names()));
  for (const auto& l : layers) {
    const auto& names = layer_names();
    GESSO_CHECK(std::find(names.begin(), names.end(), l) != names.end(), name(), ": ", what, " names layer '", l,
                "', which this network does not have; its layers are: ", joined(names));
  }
}

size_t FeatureNet::layer_index(const std::string& layer) const {
  const auto& names = layer_names();
  auto it = std::find(names.begin(), names.end(), layer);
  GESSO_CHECK(it != names.end(), name(), ": no layer named '", layer, "'; its layers are: ", joined(names));
  return static_cast<size_t>(it - names.begin());
}

size_t FeatureNet::deepest(const std::vector<std::string>& layers) const {
  size_t d = 0;
  for (const auto& l : layers) d = std::max(d, layer_index(l));
  return d;
}

std::vector<std::string> split_list(const std::string& text, const char* what) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto b = part.find_first_not_of(" \t"), e = part.find_last_not_of(" \t");
    part = b == std::string::npos ? "" : part.substr(b, e - b + 1);
    GESSO_CHECK(!part.empty(), what, ": expected a comma-separated list with no empty entries, got '", text, "'");
    out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<double> parse_doubles(const std::string& text, const char* what) {
  std::vector<double> out;
  for (const auto& part : split_list(text, what)) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(part.c_str(), &end);
    GESSO_CHECK(end && *end == '\0' && errno == 0 && std::isfinite(v), what, ": '", part,
                "' is not a finite number (in '", text, "')");
    out.push_back(v);
  }
  return out;
}

}  // namespace gesso::style
