/*
 * atomic_file.cpp: write to a temporary name, fsync, rename (see atomic_file.h).
 */
#include "tensor/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tensor/error.h"

namespace gesso {

namespace {

// Removes the temporary file unless release() was called: the one path that
// keeps it is the successful rename.
struct TempFileGuard {
  std::string path;
  std::FILE* file = nullptr;
  bool armed = true;
  ~TempFileGuard() {
    if (file) std::fclose(file);
    if (armed) std::remove(path.c_str());
  }
};

}  // namespace

void write_bytes(std::FILE* f, const void* data, size_t bytes, const std::string& path, const char* who) {
  if (bytes == 0) return;
  size_t written = std::fwrite(data, 1, bytes, f);
  GESSO_CHECK(written == bytes, who, ": writing '", path, "' failed after ", written, " of ", bytes,
              " bytes (", std::strerror(errno), ")");
}

void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write,
                           const char* who) {
  GESSO_CHECK(!path.empty(), who, ": argument 'path' must be a file name, got an empty string");
  TempFileGuard tmp;
  tmp.path = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  tmp.file = std::fopen(tmp.path.c_str(), "wb");
  GESSO_CHECK(tmp.file != nullptr, who, ": cannot write '", path, "': opening the temporary file '", tmp.path,
              "' failed (", std::strerror(errno), ")");
  write(tmp.file);
  // A full disk often shows only at flush or close, so each step is checked.
  bool ok = !std::ferror(tmp.file) && std::fflush(tmp.file) == 0 && ::fsync(::fileno(tmp.file)) == 0;
  int err = errno;
  int closed = std::fclose(tmp.file);
  tmp.file = nullptr;
  if (closed != 0 && ok) { ok = false; err = errno; }
  GESSO_CHECK(ok, who, ": writing '", path, "' failed (", std::strerror(err), "); the file was not changed");
  GESSO_CHECK(std::rename(tmp.path.c_str(), path.c_str()) == 0, who, ": cannot move the finished file '",
              tmp.path, "' to '", path, "' (", std::strerror(errno), "); the file was not changed");
  tmp.armed = false;
}

}  // namespace gesso
