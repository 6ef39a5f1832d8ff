#include "common/error.h"
#include "datasets/graph.h"

namespace sozai {
namespace {

void check_rows(const torch::Tensor& t, int64_t rows, int64_t dim, const char* field, const std::string& where) {
  if (!t.defined()) return;
  SOZAI_CHECK(t.dim() == dim, where, ": ", field, " must be ", dim, "-D, got shape ", t.sizes());
  SOZAI_CHECK(t.size(0) == rows, where, ": ", field, " has ", t.size(0), " rows, expected ", rows);
}

/// Concatenates field `f` of every graph, or returns undefined when no graph
/// has it; a field present in some graphs only is an error.
template <typename Get>
torch::Tensor concat_optional(const std::vector<MaterialGraph>& graphs, Get get, const char* field) {
  const bool first = get(graphs.front()).defined();
  std::vector<torch::Tensor> parts;
  parts.reserve(graphs.size());
  for (size_t i = 0; i < graphs.size(); ++i) {
    const auto& t = get(graphs[i]);
    SOZAI_CHECK(t.defined() == first, "batch_graphs: graph ", i, (first ? " lacks " : " has "), field,
                (first ? " which graph 0 has" : " which graph 0 lacks"));
    if (first) parts.push_back(t);
  }
  return first ? torch::cat(parts) : torch::Tensor();
}

}  // namespace

void MaterialGraph::validate() const {
  const std::string where = "graph (" + kind + ")";
  SOZAI_CHECK(x.defined() && x.dim() == 2, where, ": node features x must be a 2-D tensor");
  SOZAI_CHECK(x.is_floating_point(), where, ": node features must be floating point, got ", x.scalar_type());
  SOZAI_CHECK(!torch::isnan(x).any().item<bool>(), where, ": node features contain NaN");
  const int64_t N = x.size(0);
  SOZAI_CHECK(edge_index.defined() && edge_index.dim() == 2 && edge_index.size(0) == 2, where,
              ": edge_index must be [2, E], got ", edge_index.defined() ? edge_index.sizes() : torch::IntArrayRef{});
  SOZAI_CHECK(edge_index.scalar_type() == torch::kInt64, where, ": edge_index must be int64");
  const int64_t E = edge_index.size(1);
  if (E > 0) {
    SOZAI_CHECK(edge_index.min().item<int64_t>() >= 0 && edge_index.max().item<int64_t>() < N, where,
                ": edge_index refers to a node outside [0, ", N, ")");
  }
  check_rows(edge_attr, E, 2, "edge_attr", where);
  check_rows(atomic_number, N, 1, "atomic_number", where);
  check_rows(distance, E, 1, "distance", where);
  check_rows(image, E, 2, "image", where);
  check_rows(periodic, E, 1, "periodic", where);
  check_rows(node_weight, N, 1, "node_weight", where);
  check_rows(positions, N, 2, "positions", where);
}

GraphBatch batch_graphs(const std::vector<MaterialGraph>& graphs) {
  SOZAI_CHECK(!graphs.empty(), "batch_graphs: no graphs given");
  GraphBatch b;
  b.kind = graphs.front().kind;
  std::vector<int64_t> ptr{0}, eptr{0};
  std::vector<torch::Tensor> xs, eis, ids;
  for (size_t i = 0; i < graphs.size(); ++i) {
    const auto& g = graphs[i];
    SOZAI_CHECK(g.kind == b.kind, "batch_graphs: graph ", i, " is a ", g.kind, " graph but graph 0 is a ", b.kind,
                " graph");
    SOZAI_CHECK(g.x.defined() && g.x.dim() == 2, "batch_graphs: graph ", i, " has no node features");
    SOZAI_CHECK(g.x.size(1) == graphs.front().x.size(1), "batch_graphs: graph ", i, " has ", g.x.size(1),
                " node features, graph 0 has ", graphs.front().x.size(1));
    if (g.edge_attr.defined() && graphs.front().edge_attr.defined()) {
      SOZAI_CHECK(g.edge_attr.size(1) == graphs.front().edge_attr.size(1), "batch_graphs: graph ", i, " has ",
                  g.edge_attr.size(1), " edge features, graph 0 has ", graphs.front().edge_attr.size(1));
    }
    xs.push_back(g.x);
    eis.push_back(g.edge_index + ptr.back());
    ids.push_back(torch::full({g.num_nodes()}, static_cast<int64_t>(i), torch::kInt64));
    ptr.push_back(ptr.back() + g.num_nodes());
    eptr.push_back(eptr.back() + g.num_edges());
  }
  b.x = torch::cat(xs);
  b.edge_index = torch::cat(eis, 1);
  b.batch = torch::cat(ids);
  b.ptr = torch::tensor(ptr, torch::kInt64);
  b.edge_ptr = torch::tensor(eptr, torch::kInt64);
  b.edge_attr = concat_optional(graphs, [](const MaterialGraph& g) -> const torch::Tensor& { return g.edge_attr; },
                                "edge_attr");
  b.atomic_number = concat_optional(
      graphs, [](const MaterialGraph& g) -> const torch::Tensor& { return g.atomic_number; }, "atomic_number");
  b.distance =
      concat_optional(graphs, [](const MaterialGraph& g) -> const torch::Tensor& { return g.distance; }, "distance");
  b.image = concat_optional(graphs, [](const MaterialGraph& g) -> const torch::Tensor& { return g.image; }, "image");
  b.periodic =
      concat_optional(graphs, [](const MaterialGraph& g) -> const torch::Tensor& { return g.periodic; }, "periodic");
  b.node_weight = concat_optional(
      graphs, [](const MaterialGraph& g) -> const torch::Tensor& { return g.node_weight; }, "node_weight");
  return b;
}

GraphBatch select_graphs(const GraphBatch& b, const torch::Tensor& index_in) {
  SOZAI_CHECK(b.num_graphs() > 0, "select_graphs: the batch is empty");
  SOZAI_CHECK(index_in.dim() == 1, "select_graphs: index must be 1-D, got shape ", index_in.sizes());
  auto index = index_in.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t n = index.numel(), B = b.num_graphs();
  if (n > 0) {
    SOZAI_CHECK(index.min().item<int64_t>() >= 0 && index.max().item<int64_t>() < B, "select_graphs: index outside [0, ",
                B, ")");
  }
  auto ptr = b.ptr.to(torch::kCPU), eptr = b.edge_ptr.to(torch::kCPU);
  const int64_t* p = ptr.data_ptr<int64_t>();
  const int64_t* ep = eptr.data_ptr<int64_t>();
  const int64_t* ix = index.data_ptr<int64_t>();
  std::vector<int64_t> new_ptr{0}, new_eptr{0}, node_rows, edge_rows, shift, graph_of_node;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t g = ix[k];
    for (int64_t v = p[g]; v < p[g + 1]; ++v) {
      node_rows.push_back(v);
      graph_of_node.push_back(k);
    }
    for (int64_t e = ep[g]; e < ep[g + 1]; ++e) {
      edge_rows.push_back(e);
      shift.push_back(new_ptr.back() - p[g]);  // old node id -> new node id
    }
    new_ptr.push_back(new_ptr.back() + p[g + 1] - p[g]);
    new_eptr.push_back(new_eptr.back() + ep[g + 1] - ep[g]);
  }
  const auto dev = b.x.device();
  auto rows = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64).to(dev); };
  const auto nodes = rows(node_rows), edges = rows(edge_rows);
  auto pick = [](const torch::Tensor& t, const torch::Tensor& r) { return t.defined() ? t.index_select(0, r) : t; };
  GraphBatch out;
  out.kind = b.kind;
  out.x = pick(b.x, nodes);
  out.atomic_number = pick(b.atomic_number, nodes);
  out.node_weight = pick(b.node_weight, nodes);
  out.edge_attr = pick(b.edge_attr, edges);
  out.distance = pick(b.distance, edges);
  out.image = pick(b.image, edges);
  out.periodic = pick(b.periodic, edges);
  out.edge_index = b.edge_index.index_select(1, edges) + rows(shift).unsqueeze(0);
  out.ptr = rows(new_ptr);
  out.edge_ptr = rows(new_eptr);
  out.batch = rows(graph_of_node);
  return out;
}

GraphBatch to_device(const GraphBatch& b, const torch::Device& device, c10::optional<torch::ScalarType> float_dtype) {
  auto move = [&](const torch::Tensor& t) {
    if (!t.defined()) return t;
    if (float_dtype && t.is_floating_point()) return t.to(device, *float_dtype);
    return t.to(device);
  };
  GraphBatch out;
  out.kind = b.kind;
  out.x = move(b.x);
  out.edge_index = move(b.edge_index);
  out.edge_attr = move(b.edge_attr);
  out.atomic_number = move(b.atomic_number);
  out.distance = move(b.distance);
  out.image = move(b.image);
  out.periodic = move(b.periodic);
  out.node_weight = move(b.node_weight);
  out.ptr = move(b.ptr);
  out.edge_ptr = move(b.edge_ptr);
  out.batch = move(b.batch);
  return out;
}

MaterialGraph GraphBatch::graph(int64_t i) const {
  SOZAI_CHECK(i >= 0 && i < num_graphs(), "GraphBatch::graph: index ", i, " outside [0, ", num_graphs(), ")");
  const int64_t n0 = ptr[i].item<int64_t>(), n1 = ptr[i + 1].item<int64_t>();
  const int64_t e0 = edge_ptr[i].item<int64_t>(), e1 = edge_ptr[i + 1].item<int64_t>();
  auto nodes = [&](const torch::Tensor& t) { return t.defined() ? t.slice(0, n0, n1) : t; };
  auto edges = [&](const torch::Tensor& t) { return t.defined() ? t.slice(0, e0, e1) : t; };
  MaterialGraph g;
  g.kind = kind;
  g.x = nodes(x);
  g.edge_index = edge_index.slice(1, e0, e1) - n0;
  g.edge_attr = edges(edge_attr);
  g.atomic_number = nodes(atomic_number);
  g.distance = edges(distance);
  g.image = edges(image);
  g.periodic = edges(periodic);
  g.node_weight = nodes(node_weight);
  return g;
}

}  // namespace sozai
