#include "common/files.h"
#include "common/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace sozai {

void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  // The process id keeps two processes saving the same file from sharing a
  // temporary file.
  const std::string tmp = str(path, ".tmp.", ::getpid());
  try {
    write(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw StorageError(str("cannot move '", tmp, "' to '", path, "': ", why));
  }
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw StorageError(str("cannot write '", tmp, "': ", std::strerror(errno)));
    out << text;
    out.close();
    if (!out) throw StorageError(str("writing '", tmp, "' failed (disk full?)"));
  });
}

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError(str("cannot open ", what, " '", path, "': ", std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw StorageError(str("reading ", what, " '", path, "' failed"));
  return ss.str();
}

}  // namespace sozai
