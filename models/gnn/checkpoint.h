#pragma once
/// A long training run's checkpoint file (pretraining, a federated
/// simulation): one LibTorch archive with the run's format name, its
/// identity (the settings and data digests it must agree with to be
/// resumed), its progress as JSON, and the archives the run adds (weights,
/// optimiser states). Written atomically: a run killed while writing keeps
/// its previous checkpoint.

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace sozai {
namespace gnn {

/// Hex SHA-256 of a run's rows for its identity: each input with its
/// length (so that no two lists of inputs hash alike), then each array's
/// shape and float64 values (an undefined or empty array counts as empty).
std::string rows_digest(const std::vector<std::string>& inputs, const std::vector<torch::Tensor>& arrays);

/// who: the run's name in errors ("pretrain", "federated"); fill adds the
/// run's own entries. StorageError when the file cannot be written.
void write_run_checkpoint(const std::string& path, const std::string& format, const std::string& who,
                          const nlohmann::json& identity, const nlohmann::json& state,
                          const std::function<void(torch::serialize::OutputArchive&)>& fill);

/// Opens the checkpoint at `path` into `archive` and its progress into
/// `state`; false when there is none (or path is empty). StorageError when
/// it cannot be read or is not a `format` checkpoint; InputError naming the
/// identity fields that differ when it was written for other settings or
/// data (it is never silently overwritten).
bool read_run_checkpoint(const std::string& path, const std::string& format, const std::string& who,
                         const nlohmann::json& identity, nlohmann::json& state,
                         torch::serialize::InputArchive& archive);

}  // namespace gnn
}  // namespace sozai
