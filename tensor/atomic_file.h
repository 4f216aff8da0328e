/*
 * atomic_file.h: writing a file so that a reader (or a crash) never sees it
 * half-written. The bytes go to "<path>.tmp.<pid>", are flushed to disk, and
 * the temporary file is renamed over `path` only once everything succeeded;
 * on any failure the temporary file is removed and an existing file at
 * `path` is left exactly as it was. Used by safetensors/checkpoints and by
 * save_image.
 */
#pragma once
#include <cstdio>
#include <functional>
#include <string>

namespace gesso {

// Calls write(file) on the open temporary file, then publishes it at `path`.
// `who` names the calling function in error messages. write() may throw;
// short writes are detected afterwards through ferror(), so it may simply
// call write_bytes() or fwrite.
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write,
                           const char* who);

// fwrite that throws (naming `who` and `path`) when fewer bytes were written.
void write_bytes(std::FILE* f, const void* data, size_t bytes, const std::string& path, const char* who);

}  // namespace gesso
