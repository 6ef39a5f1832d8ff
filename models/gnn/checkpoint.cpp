#include "models/gnn/checkpoint.h"
#include "common/error.h"
#include "common/files.h"
#include "common/sha256.h"
#include "common/strings.h"

#include <fstream>

namespace sozai {
namespace gnn {

std::string rows_digest(const std::vector<std::string>& inputs, const std::vector<torch::Tensor>& arrays) {
  std::vector<std::string> parts;
  parts.reserve(2 * inputs.size() + 2 * arrays.size());
  for (const auto& s : inputs) {
    parts.push_back(std::to_string(s.size()) + ":");
    parts.push_back(s);
  }
  for (const auto& t : arrays) {
    if (!t.defined() || t.numel() == 0) {
      parts.emplace_back("[]");
      continue;
    }
    const auto c = t.to(torch::kCPU, torch::kFloat64).contiguous();
    std::string shape = "[";
    for (auto d : c.sizes()) shape += std::to_string(d) + ",";
    parts.push_back(shape + "]");
    parts.emplace_back(reinterpret_cast<const char*>(c.data_ptr<double>()), c.numel() * sizeof(double));
  }
  return to_hex(sha256(parts));
}

void write_run_checkpoint(const std::string& path, const std::string& format, const std::string& who,
                          const nlohmann::json& identity, const nlohmann::json& state,
                          const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  torch::serialize::OutputArchive a;
  a.write("format", c10::IValue(format));
  a.write("identity", c10::IValue(identity.dump()));
  a.write("state", c10::IValue(state.dump()));
  fill(a);
  write_atomically(path, [&](const std::string& tmp) {
    try {
      a.save_to(tmp);
    } catch (const c10::Error& e) {
      throw StorageError(str(who, ": cannot write checkpoint '", tmp, "': ", e.what_without_backtrace()));
    }
  });
}

bool read_run_checkpoint(const std::string& path, const std::string& format, const std::string& who,
                         const nlohmann::json& identity, nlohmann::json& state,
                         torch::serialize::InputArchive& archive) {
  if (path.empty() || !std::ifstream(path).good()) return false;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw StorageError(str(who, ": checkpoint '", path, "' cannot be read (", e.what_without_backtrace(),
                           "); remove it to start afresh"));
  }
  c10::IValue v;
  if (!archive.try_read("format", v) || !v.isString() || v.toStringRef() != format)
    throw StorageError(str(who, ": '", path, "' is not a ", who, " checkpoint"));
  nlohmann::json saved;
  try {
    archive.read("identity", v);
    saved = nlohmann::json::parse(v.toStringRef());
    archive.read("state", v);
    state = nlohmann::json::parse(v.toStringRef());
  } catch (const std::exception& e) {
    throw StorageError(str(who, ": checkpoint '", path, "' is damaged (", e.what(), "); remove it to start afresh"));
  }
  if (saved != identity) {
    std::string what;
    for (auto it = identity.begin(); it != identity.end(); ++it)
      if (!saved.contains(it.key()) || saved[it.key()] != it.value()) what += (what.empty() ? "" : ", ") + it.key();
    throw InputError(str(who, ": checkpoint '", path, "' was written for other settings or data (differs in: ", what,
                         "); remove it or choose another checkpoint"));
  }
  return true;
}

}  // namespace gnn
}  // namespace sozai
