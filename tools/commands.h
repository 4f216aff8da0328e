// commands.h: each `gesso` subcommand registers itself on the CLI11 app.
#pragma once
#include <CLI/CLI.hpp>

namespace gesso::tools {

void add_info_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_gan_command(CLI::App& app);
void add_style_command(CLI::App& app);

}  // namespace gesso::tools
