// The one place that maps a kind to its architecture.
#include "common/error.h"
#include "models/gnn/composition_net.h"
#include "models/gnn/crystal_net.h"
#include "models/gnn/graph_model.h"
#include "models/gnn/polymer_mpnn.h"

namespace sozai {
namespace gnn {

int64_t default_hidden(const std::string& kind) {
  if (kind == "polymer") return 128;
  if (kind == "crystal" || kind == "composition") return 64;
  throw InputError(str("default_hidden: unknown kind '", kind, "'; expected crystal, polymer or composition"));
}

std::shared_ptr<GraphModel> make_graph_model(const GraphModelConfig& requested) {
  GraphModelConfig config = requested;
  if (config.hidden == 0) config.hidden = default_hidden(config.kind);
  SOZAI_CHECK(config.node_dim > 0, "make_graph_model: node_dim must be > 0 (set from the featuriser), got ",
              config.node_dim);
  SOZAI_CHECK(config.hidden > 0 && config.layers >= 0 && config.head_hidden > 0, "make_graph_model: hidden (",
              config.hidden, "), head_hidden (", config.head_hidden, ") must be > 0 and layers (", config.layers,
              ") >= 0");
  SOZAI_CHECK(config.dropout >= 0 && config.dropout < 1, "make_graph_model: dropout must be in [0, 1), got ",
              config.dropout);
  SOZAI_CHECK(config.element_dim == 0 || config.kind == "composition",
              "make_graph_model: an element table (element_dim = ", config.element_dim,
              ") is for composition models only, not '", config.kind, "'");
  if (config.kind == "crystal") return make_crystal_graph_net(config);
  if (config.kind == "polymer") return make_polymer_mpnn(config);
  if (config.kind == "composition") return make_composition_net(config);
  throw InputError(str("make_graph_model: unknown kind '", config.kind, "'; expected crystal, polymer or composition"));
}

}  // namespace gnn
}  // namespace sozai
