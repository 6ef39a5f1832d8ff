#pragma once
/// Files written so that a crash or a full disk never leaves a half-written
/// one in place of the last good copy: everything that saves state (campaign
/// state, featurised datasets, trained models, downloads) writes a temporary
/// file beside the target and renames it over the target.

#include <functional>
#include <string>

namespace sozai {

/// Calls write(tmp) for a temporary path beside `path`, then renames it
/// over `path` (atomic on POSIX file systems). If write throws or the
/// rename fails, the temporary file is removed and `path` is left as it
/// was; StorageError names both paths.
void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write);
/// write_atomically with `text` as the file's contents.
void write_text_atomically(const std::string& path, const std::string& text);
/// The whole file; StorageError naming it when it cannot be read.
/// `what` names the file's role in the error ("campaign state").
std::string read_text(const std::string& path, const std::string& what = "file");

}  // namespace sozai
