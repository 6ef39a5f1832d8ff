#pragma once
/// Polymers and molecules through RDKit: repeat-unit SMILES -> graphs with
/// the periodic bond of the infinite chain, Morgan fingerprints (bit-packed
/// for the Tanimoto kernel, and counts), blends/copolymers as
/// fraction-weighted sets of repeat units, and polymer-ceramic composites.
///
/// Every entry point needs RDKit; in a build with SOZAI_WITH_RDKIT=OFF each
/// throws UnsupportedError naming that option (see require_feature).
///
/// SMILES are parsed exactly as RDKit's Python `Chem.MolFromSmiles` does
/// (sanitised, implicit hydrogens, explicit [H] removed where RDKit removes
/// them), so features and fingerprints can be compared with RDKit directly.
/// Errors are InputError naming the SMILES (and its position in a list).

#include "datasets/composition.h"
#include "datasets/graph.h"

#include <cstdint>
#include <string>
#include <vector>
#include <torch/types.h>

namespace sozai {

// ------------------------------------------------------------------ graphs

/// Names of the columns of a polymer/molecule graph's node features x, in
/// order (width kPolymerAtomFeatures). Groups, each one-hot with a final
/// "other" bucket for values outside the list:
///   element (H Li B C N O F Na Mg Al Si P S Cl K Ca Ti Fe Zn Ge Se Br Cd Sn Te I Pb, other),
///   degree (0..5, other), formal charge (-2..+2, other),
///   hybridisation (S, SP, SP2, SP3, SP3D, SP3D2, other),
///   aromatic (one 0/1 column), total H count (0..4, other),
///   in ring (one 0/1 column), chirality tag (unspecified, CW, CCW, other).
/// Degree, hybridisation and H count are RDKit's on the repeat unit with its
/// end markers, which are those of the atom inside the infinite chain.
const std::vector<std::string>& polymer_atom_feature_names();

/// Names of the columns of edge_attr, in order: bond type (single, double,
/// triple, aromatic, other), conjugated, in ring, stereo (none, any, Z, E,
/// cis, trans, other), periodic (1 on the bond that closes the repeat unit).
const std::vector<std::string>& polymer_bond_feature_names();

/// Repeat unit (or molecule) SMILES -> graph.
///
/// Polymers: exactly two end markers, `*`, `[*]`, or labelled ones such as
/// `[*:1]` / `[1*]` (any atom of atomic number 0), each bonded to exactly
/// one atom. The markers are removed and the two atoms they were bonded to
/// (a, b; a belongs to the marker of lower atom index) are joined by the
/// periodic bond a -> b, b -> a, appended after the ordinary bonds with
/// `periodic` = true and the features of the bond a-marker (plus periodic =
/// 1 in edge_attr). When both markers sit on one atom (`*C*`, polymethylene;
/// `*[Si](C)(C)*`) a = b: the periodic bond is a self-loop stored twice,
/// because in the infinite chain that atom is bonded to its own images in
/// the previous and the next unit, so message passing sees two neighbours
/// equal to itself, as the chemistry says (an error would reject real,
/// common polymers such as the first row of Tg_Original.csv).
///
/// kind: "polymer", or "molecule" when the SMILES has no marker (then
/// `periodic` is all false). Returns x [N, F_node] float32 (columns:
/// polymer_atom_feature_names), edge_index [2, E] int64 (both directions of
/// every bond, consecutive: edges 2k and 2k+1 are bond k, in RDKit's bond
/// order; the periodic pair last), edge_attr [E, F_edge] float32,
/// atomic_number [N] int64, periodic [E] bool. Node i is the i-th atom of
/// RDKit's molecule that is not a marker (RDKit's order, markers skipped).
///
/// InputError naming the SMILES when RDKit cannot parse it (with RDKit's
/// message), when it has one or more than two markers, or when a marker has
/// other than one neighbour.
MaterialGraph polymer_graph(const std::string& smiles);

/// polymer_graph of every SMILES, batched (batch_graphs). All must be of one
/// kind (all polymers or all molecules). Parsed in parallel over LibTorch's
/// intra-op threads; an error names the SMILES and its index in the list.
GraphBatch polymer_graphs(const std::vector<std::string>& smiles);

/// Graphs and fingerprints of many SMILES from one parse of each.
struct PolymerFeatures {
  GraphBatch graphs;           ///< as polymer_graphs
  torch::Tensor fingerprints;  ///< [n, ceil(n_bits / 64)] int64, as morgan_fingerprint
};

/// polymer_graphs(smiles) and morgan_fingerprint(smiles, radius, n_bits) in
/// one pass: each SMILES is parsed once, which is most of the cost of both
/// (RDKit's sanitisation). Same results and errors as the two calls.
PolymerFeatures polymer_features(const std::vector<std::string>& smiles, int64_t radius = 2,
                                 int64_t n_bits = 2048);

// ------------------------------------------------------------ fingerprints

/// Morgan (ECFP-like) fingerprint of radius `radius` folded to n_bits,
/// identical to RDKit's
///   rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
///     .GetFingerprint(Chem.MolFromSmiles(smiles))
/// (connectivity invariants, bond types, no chirality). The SMILES is taken
/// as given: end markers stay in the molecule as RDKit's dummy atoms
/// (atomic number 0), so a repeat unit's fingerprint is RDKit's for the
/// same string and "which end is open" is part of the environments.
/// Returns int64 [ceil(n_bits / 64)]: bit k in word k / 64 at position
/// k % 64, the layout of kernels::pack_bits, ready for kernels::tanimoto.
/// radius >= 0 and 1 <= n_bits <= 2^31 - 1, else InputError.
torch::Tensor morgan_fingerprint(const std::string& smiles, int64_t radius = 2, int64_t n_bits = 2048);

/// The fingerprints of many SMILES: int64 [n, ceil(n_bits / 64)]; computed
/// in parallel, errors name the SMILES and its index.
torch::Tensor morgan_fingerprint(const std::vector<std::string>& smiles, int64_t radius = 2,
                                 int64_t n_bits = 2048);

/// Hashed Morgan counts, identical to RDKit's generator
/// GetCountFingerprintAsNumPy (how many atom environments fold into each of
/// the n_bits slots). Returns int32 [n_bits].
torch::Tensor morgan_counts(const std::string& smiles, int64_t radius = 2, int64_t n_bits = 2048);

/// Counts of many SMILES: int32 [n, n_bits].
torch::Tensor morgan_counts(const std::vector<std::string>& smiles, int64_t radius = 2, int64_t n_bits = 2048);

// ------------------------------------------------- blends and copolymers

/// A blend or copolymer as a fraction-weighted set of repeat units
/// (or a polymer with small-molecule additives).
///
/// Representation: `graphs` is the GraphBatch of the components in the
/// order given (graph i = component i); `fractions` [B] float64 holds the
/// normalised fractions (sum 1); and graphs.node_weight [N] float32 carries
/// each node's component fraction, so that a weighted readout
/// sum_n node_weight[n] * h[n] / (atoms per component) or a fraction-weighted
/// mean of per-graph embeddings needs nothing else. graphs.kind is
/// "polymer" or "molecule" when all components are of that kind and "blend"
/// when they are mixed; `kinds` keeps each component's own kind.
struct PolymerBlend {
  std::vector<std::string> smiles;  ///< [B] components as given
  std::vector<std::string> kinds;   ///< [B] "polymer" or "molecule"
  torch::Tensor fractions;          ///< [B] float64, >= 0, sum 1
  GraphBatch graphs;                ///< B graphs; node_weight = component fraction
};

/// Builds a PolymerBlend. fractions: one per SMILES, finite and >= 0 with a
/// positive sum (mole or weight ratios such as {70, 30} are normalised to
/// sum 1; the caller decides which ratio they mean). InputError naming the
/// component otherwise, or for an empty list or a bad SMILES.
PolymerBlend polymer_blend(const std::vector<std::string>& smiles, const std::vector<double>& fractions);

/// Polymers and blends as one graph each, for graph networks that pool
/// nodes by weight (PolymerMPNN). Each input is a SMILES, or a blend
/// written "SMILES f | SMILES f | ..." (a fraction after each component,
/// normalised like polymer_blend). A blend's components sit side by side in
/// its graph without edges between them; node_weight = f_c / (atoms of
/// component c) (1 / atoms for a lone SMILES), so the weighted-mean readout
/// is the fraction-weighted mean of the components' mean node states.
/// kind: "polymer" when every component is a repeat unit, "molecule" when
/// none is, else "blend". InputError naming the input and component.
GraphBatch polymer_blend_graphs(const std::vector<std::string>& inputs);

/// Fraction-weighted Morgan counts sum_i f_i * counts_i with the normalised
/// fractions of polymer_blend: float64 [n_bits]. The same validation.
torch::Tensor blend_fingerprint_counts(const std::vector<std::string>& smiles, const std::vector<double>& fractions,
                                       int64_t radius = 2, int64_t n_bits = 2048);

// ------------------------------------------------------------- composites

/// A polymer-ceramic composite: a polymer matrix with a ceramic (or metal)
/// filler at a volume fraction.
struct PolymerComposite {
  std::string matrix_smiles;   ///< repeat unit (or molecule) of the matrix
  std::string matrix_kind;     ///< "polymer" or "molecule"
  std::string filler_formula;  ///< the filler's formula as given
  Composition filler;          ///< the formula parsed (parse_formula)
  double volume_fraction = 0;  ///< filler volume fraction phi in [0, 1]
};

/// Validates and builds a PolymerComposite: phi finite and 0 <= phi <= 1;
/// the matrix SMILES must pass polymer_graph's checks; the filler formula
/// must parse with parse_formula (datasets/composition.h). InputError
/// naming the argument and the value otherwise.
PolymerComposite composite(const std::string& matrix_smiles, const std::string& filler_formula,
                           double volume_fraction);

}  // namespace sozai
