#include <sozai/core/common/error.h>
#include <sozai/models/gnn/graph_model.h>

namespace sozai {
namespace gnn {

void GraphModel::check_input(const GraphBatch& g, const torch::Tensor& conditions, bool needs_edges) const {
  const auto& c = config_;
  const std::string where = str(c.kind, " model");
  SOZAI_CHECK(g.num_graphs() > 0, where, ": the batch holds no graphs");
  SOZAI_CHECK(g.x.defined() && g.x.dim() == 2 && g.x.size(1) == c.node_dim, where, ": expected node features [N, ",
              c.node_dim, "], got ", g.x.defined() ? g.x.sizes() : torch::IntArrayRef{});
  SOZAI_CHECK(torch::isfinite(g.x).all().item<bool>(), where, ": node features contain NaN or infinity");
  if (needs_edges) {
    // Every graph needs at least one edge to pass messages; say which does not.
    auto counts = g.edge_ptr.narrow(0, 1, g.num_graphs()) - g.edge_ptr.narrow(0, 0, g.num_graphs());
    auto nodes = g.ptr.narrow(0, 1, g.num_graphs()) - g.ptr.narrow(0, 0, g.num_graphs());
    auto bad = torch::nonzero((counts == 0).logical_and(nodes > 1));
    SOZAI_CHECK(bad.numel() == 0, where, ": graph ", bad.numel() ? bad[0][0].item<int64_t>() : -1,
                " of the batch has several nodes but no edges");
  }
  if (c.edge_dim > 0 && g.num_edges() > 0) {
    SOZAI_CHECK(g.edge_attr.defined() && g.edge_attr.size(1) == c.edge_dim, where, ": expected edge features [E, ",
                c.edge_dim, "], got ", g.edge_attr.defined() ? g.edge_attr.sizes() : torch::IntArrayRef{});
    SOZAI_CHECK(torch::isfinite(g.edge_attr).all().item<bool>(), where, ": edge features contain NaN or infinity");
  }
  if (c.condition_dim > 0) {
    SOZAI_CHECK(conditions.defined() && conditions.dim() == 2 && conditions.size(0) == g.num_graphs() &&
                    conditions.size(1) == c.condition_dim,
                where, ": expected conditions [", g.num_graphs(), ", ", c.condition_dim, "], got ",
                conditions.defined() ? conditions.sizes() : torch::IntArrayRef{});
    SOZAI_CHECK(torch::isfinite(conditions).all().item<bool>(), where, ": conditions contain NaN or infinity");
  } else {
    SOZAI_CHECK(!conditions.defined() || conditions.numel() == 0, where,
                ": conditions given but the model was built with condition_dim = 0");
  }
}

}  // namespace gnn
}  // namespace sozai
