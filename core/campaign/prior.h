#pragma once
/// Priors: data from earlier campaigns or related data sets that a new
/// campaign learns from (models/gp/transfer.h does the learning).
///
/// A Prior is a table of inputs and one outcome. Its `columns` name the
/// inputs, and a campaign meets its priors in one input space built from
/// the names (TransferSpace):
/// - a column named by an element symbol ("Ni", "Fe"; also "ni_load",
///   "Ni_fraction", "Ni_frac") is that element's share. The space holds
///   the element shares over the union of all tables' elements (a table
///   that lacks an element has a zero share of it), renormalised to sum 1,
///   plus the leading principal components of the Magpie composition
///   features of those shares (datasets/composition.h), which let plates
///   with different element sets meet on chemistry;
/// - any other column is matched by name; a table that lacks it has it
///   absent (0). The order of a table's columns never matters.
/// A prior that shares no column with the target is refused. Outcome
/// scales may differ (computed vs measured): the transfer models learn the
/// relation; `maximize` says which way the prior's outcome is better, so a
/// prior minimised where the target is maximised is turned around.

#include "core/space/design_space.h"
#include "models/gp/transfer.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {

namespace gnn {
class GnnEnsemble;  // models/gnn/ensemble.h
}

struct Prior {
  Prior() = default;
  /// X [n, d] (any float dtype), y [n] or [n, 1], d column names. InputError
  /// for mismatched sizes, repeated or empty names, fewer than 2 rows, or a
  /// non-finite value (naming its row and column).
  Prior(const torch::Tensor& X, const torch::Tensor& y, std::vector<std::string> columns, bool maximize = true,
        std::string name = "");

  torch::Tensor X;  ///< [n, d] float64, CPU
  torch::Tensor y;  ///< [n] float64, CPU
  std::vector<std::string> columns;
  bool maximize = true;
  std::string name;
  /// The file it was read from ("" otherwise), kept in a campaign's saved
  /// state so that the command line can read it again.
  std::string source;
  /// The outcome's column in `source` ("" otherwise).
  std::string target;

  int64_t rows() const { return X.size(0); }
  /// SHA-256 (hex) of the name-independent content: columns, direction, X
  /// and y. A saved campaign records it and refuses a different table.
  std::string digest() const;
  /// {"name", "digest", "rows", "columns", "maximize", "source", "target"}.
  nlohmann::json describe() const;

  /// A CSV with a header: `target` (default: the last column) is the
  /// outcome, every other column an input. Rows whose outcome cell is empty
  /// are left out; any other bad cell is an InputError naming the file, row
  /// and column. name defaults to the file's stem.
  static Prior read_csv(const std::string& path, const std::string& target = "", bool maximize = true,
                        const std::string& name = "");
  /// Reads a prior again from what describe() recorded of it (a campaign's
  /// saved state): the file `source`, outcome column `target`. InputError
  /// when the record has no file (a table given in memory) or the file is
  /// gone; a file whose content changed is refused by its digest where the
  /// prior is attached.
  static Prior read_back(const nlohmann::json& record);
  /// What a model knows as a prior: its predicted mean on the rows X of a
  /// table with `columns` (a campaign's pool, or any grid of the space).
  /// For a federated ensemble (core/federated) this is how a company's next
  /// campaign learns from other companies' data without seeing it; a
  /// pretrained or earlier fine-tuned ensemble works the same way. The
  /// model must be a composition model: each row's element columns (as for
  /// TransferSpace) make its formula, and `condition_columns` name the
  /// columns that feed the model's process conditions, in its order.
  /// InputError naming the row with no positive element share, a missing
  /// condition column, or a model of another kind or condition width.
  static Prior from_model(const gnn::GnnEnsemble& model, const torch::Tensor& X, const std::vector<std::string>& columns,
                          bool maximize = true, const std::string& name = "",
                          const std::vector<std::string>& condition_columns = {});
};

/// The element symbol a column name stands for ("Ni" for "Ni", "ni_load",
/// "Ni_fraction", "NI_frac"), or "" when it names no element.
std::string element_of_column(const std::string& name);
/// The formula of each row of X [n, columns.size()] from its element
/// columns (element_of_column; others are ignored), e.g. "Fe0.2Ni0.8";
/// InputError naming `where`, the row and the column for a share that is
/// negative or not finite, or a row without any positive share.
std::vector<std::string> element_formulas(const torch::Tensor& X, const std::vector<std::string>& columns,
                                          const std::string& where);

/// The common input space of a target table and its priors (see the file
/// comment). Built from the column names alone plus, when elements are
/// involved, a principal-component basis of the composition features of
/// the rows it is given.
class TransferSpace {
 public:
  TransferSpace() = default;
  /// target_columns: the target's input names; tables: the rows to fit the
  /// composition components on, with their columns (the target's rows
  /// first when it has some, then each prior's). components: how many
  /// principal components of the composition features (0: none).
  /// InputError naming the prior that shares no column with the target.
  TransferSpace(const std::vector<std::string>& target_columns, const std::vector<Prior>& priors,
                const torch::Tensor& target_rows, int64_t components = 4);

  /// Rows of a table with `columns` in this space: [n, width()] float64.
  /// InputError naming `where` and the row whose element shares are all 0
  /// or negative.
  torch::Tensor encode(const torch::Tensor& X, const std::vector<std::string>& columns,
                       const std::string& where) const;
  /// Names of the space's columns: elements, other inputs, "pc1".."pcK".
  const std::vector<std::string>& columns() const { return names_; }
  int64_t width() const { return static_cast<int64_t>(names_.size()); }
  const std::vector<std::string>& elements() const { return elements_; }

 private:
  /// Element shares [n, elements] (rows renormalised) and the other inputs
  /// [n, others] of a table.
  void split(const torch::Tensor& X, const std::vector<std::string>& columns, const std::string& where,
             torch::Tensor* shares, torch::Tensor* others) const;
  torch::Tensor features(const torch::Tensor& shares) const;  // [n, 110], NaN -> column mean

  std::vector<std::string> elements_;  // union, in order of atomic number
  std::vector<int> atomic_numbers_;
  std::vector<std::string> others_;    // union of the other names, target's first
  std::vector<std::string> names_;
  torch::Tensor feature_mean_, feature_sd_, components_;  // [110], [110], [110, K]
};

/// Priors of a campaign in its transfer space, ready for the transfer
/// models: each source oriented to the target's direction.
std::vector<TransferSource> transfer_sources(const TransferSpace& space, const std::vector<Prior>& priors,
                                             bool target_maximizes);

/// Candidates of a design space as a table that priors meet by name: a
/// continuous or integer parameter is one column named by the parameter
/// (its value in natural units), a composition one column per element
/// (the symbol; "param.symbol" when two compositions share the element),
/// a categorical choice one 0/1 column "param=label" per label.
/// natural_columns: the names; natural_table: raw candidates [n,
/// raw_width] as that table [n, names] float64.
std::vector<std::string> natural_columns(const DesignSpace& space);
torch::Tensor natural_table(const DesignSpace& space, const torch::Tensor& raw);
/// The same table from encoded candidates [n, encoded_width]
/// (space.encode), differentiable in the continuous and composition
/// columns (the acquisition optimiser's gradients reach a transfer model
/// through it); a choice encoded by descriptors maps to its nearest label.
torch::Tensor natural_from_encoded(const DesignSpace& space, const torch::Tensor& E);

/// Each prior model's latent mean at C [n, w], standardised over C and
/// summed (every prior on an equal footing), negated when the target
/// minimises: larger is better. [n] float64.
torch::Tensor prior_scores(const std::vector<std::shared_ptr<const Surrogate>>& models, const torch::Tensor& C,
                           bool maximize);

/// Checks priors given back to a campaign against what it recorded of them
/// (Prior::describe()): their number, then each one's digest. InputError
/// naming `where` and the prior that differs.
void check_prior_records(const std::vector<Prior>& priors, const std::vector<nlohmann::json>& records,
                         const std::string& where);

}  // namespace sozai
