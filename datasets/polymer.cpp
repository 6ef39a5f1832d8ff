/// Polymers and molecules through RDKit (see polymer.h).
///
/// Every SMILES goes through RDKit's own SmilesToMol with its default
/// parameters, the call behind Python's Chem.MolFromSmiles, so the atoms,
/// their order and the fingerprints are RDKit's. The graph is built from
/// plain per-molecule buffers and turned into tensors once per call (one
/// set of tensors for a whole batch), because per-molecule tensors cost
/// more than the featurisation itself for the small repeat units of real
/// polymer data.

#include "common/build_info.h"
#include "common/error.h"
#include "datasets/polymer.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>

#ifdef SOZAI_WITH_RDKIT
#include <DataStructs/ExplicitBitVect.h>
#include <DataStructs/SparseIntVect.h>
#include <GraphMol/Fingerprints/MorganGenerator.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <RDGeneral/RDLog.h>
#endif

namespace sozai {
namespace {

// ------------------------------------------------------- feature layout
// The value lists of the one-hot groups; a value not in a list goes to the
// group's final "other" column.

constexpr std::array<int, 27> kElements{1,  3,  5,  6,  7,  8,  9,  11, 12, 13, 14, 15, 16, 17,
                                        19, 20, 22, 26, 30, 32, 34, 35, 48, 50, 52, 53, 82};
constexpr std::array<const char*, 27> kElementSymbols{"H",  "Li", "B",  "C",  "N",  "O",  "F",  "Na", "Mg",
                                                      "Al", "Si", "P",  "S",  "Cl", "K",  "Ca", "Ti", "Fe",
                                                      "Zn", "Ge", "Se", "Br", "Cd", "Sn", "Te", "I",  "Pb"};
constexpr int kMaxDegree = 5;     // 0..5
constexpr int kMinCharge = -2;    // -2..+2
constexpr int kNumCharges = 5;
constexpr int kNumHybrid = 6;     // S, SP, SP2, SP3, SP3D, SP3D2
constexpr int kMaxHs = 4;         // 0..4
constexpr int kNumChiral = 3;     // unspecified, CW, CCW
constexpr int kNumBondTypes = 4;  // single, double, triple, aromatic
constexpr int kNumStereo = 6;     // none, any, Z, E, cis, trans

// Column offsets of the groups in x and edge_attr.
constexpr int kOffElement = 0;
constexpr int kOffDegree = kOffElement + static_cast<int>(kElements.size()) + 1;
constexpr int kOffCharge = kOffDegree + kMaxDegree + 2;
constexpr int kOffHybrid = kOffCharge + kNumCharges + 1;
constexpr int kOffAromatic = kOffHybrid + kNumHybrid + 1;
constexpr int kOffHs = kOffAromatic + 1;
constexpr int kOffRing = kOffHs + kMaxHs + 2;
constexpr int kOffChiral = kOffRing + 1;
constexpr int kAtomFeatures = kOffChiral + kNumChiral + 1;

constexpr int kOffBondType = 0;
constexpr int kOffConjugated = kOffBondType + kNumBondTypes + 1;
constexpr int kOffBondRing = kOffConjugated + 1;
constexpr int kOffStereo = kOffBondRing + 1;
constexpr int kOffPeriodic = kOffStereo + kNumStereo + 1;
constexpr int kBondFeatures = kOffPeriodic + 1;

#ifdef SOZAI_WITH_RDKIT

/// Index of `v` in [0, n) or n (the "other" bucket).
inline int bucket(int v, int n) { return v >= 0 && v < n ? v : n; }

/// One molecule's graph in plain buffers; tensors are made once per call.
struct RawGraph {
  bool polymer = false;
  int64_t num_nodes = 0;
  std::vector<float> x;              // [N * kAtomFeatures]
  std::vector<int64_t> z;            // [N]
  std::vector<int64_t> src, dst;     // [E]
  std::vector<float> edge_attr;      // [E * kBondFeatures]
  std::vector<uint8_t> periodic;     // [E]
};

/// "polymer_graphs: SMILES #3 " for a list element, "polymer_graph: " alone.
std::string where(const char* fn, int64_t index) {
  return index < 0 ? str(fn, ": ") : str(fn, ": SMILES #", index, " ");
}

void check_fingerprint_args(const char* fn, int64_t radius, int64_t n_bits) {
  // The bounds are RDKit's types (unsigned radius, uint32 fpSize); a radius
  // above 64 exceeds any molecule's diameter in practice and only costs time.
  SOZAI_CHECK(radius >= 0 && radius <= 64, fn, ": radius must be in [0, 64], got ", radius);
  SOZAI_CHECK(n_bits >= 1 && n_bits <= 2147483647LL, fn, ": n_bits must be in [1, 2^31 - 1], got ", n_bits);
}

/// Fractions as given -> normalised float64 [B]; InputError naming the
/// component for a negative or non-finite value or a zero sum.
torch::Tensor normalised_fractions(const char* fn, const std::vector<std::string>& smiles,
                                   const std::vector<double>& fractions) {
  SOZAI_CHECK(!smiles.empty(), fn, ": no components given");
  SOZAI_CHECK(fractions.size() == smiles.size(), fn, ": ", smiles.size(), " SMILES but ", fractions.size(),
              " fractions; give one fraction per component");
  double sum = 0;
  for (size_t i = 0; i < fractions.size(); ++i) {
    SOZAI_CHECK(std::isfinite(fractions[i]) && fractions[i] >= 0, fn, ": fraction #", i, " (of '", smiles[i],
                "') must be finite and >= 0, got ", fractions[i]);
    sum += fractions[i];
  }
  SOZAI_CHECK(sum > 0, fn, ": the fractions sum to 0; at least one component needs a positive fraction");
  auto out = torch::empty({static_cast<int64_t>(fractions.size())}, torch::kFloat64);
  for (size_t i = 0; i < fractions.size(); ++i) out.data_ptr<double>()[i] = fractions[i] / sum;
  return out;
}

/// Concatenates raw graphs into a GraphBatch (the layout of batch_graphs,
/// built in one pass). node_weight: per-graph weights broadcast to nodes,
/// or undefined when `graph_weight` is null.
GraphBatch assemble(const std::vector<RawGraph>& raws, const std::string& kind, const double* graph_weight) {
  const int64_t B = static_cast<int64_t>(raws.size());
  auto ptr = torch::empty({B + 1}, torch::kInt64), eptr = torch::empty({B + 1}, torch::kInt64);
  int64_t* p = ptr.data_ptr<int64_t>();
  int64_t* ep = eptr.data_ptr<int64_t>();
  p[0] = ep[0] = 0;
  for (int64_t i = 0; i < B; ++i) {
    p[i + 1] = p[i] + raws[i].num_nodes;
    ep[i + 1] = ep[i] + static_cast<int64_t>(raws[i].src.size());
  }
  const int64_t N = p[B], E = ep[B];
  GraphBatch b;
  b.kind = kind;
  b.x = torch::empty({N, kAtomFeatures}, torch::kFloat32);
  b.atomic_number = torch::empty({N}, torch::kInt64);
  b.batch = torch::empty({N}, torch::kInt64);
  b.edge_index = torch::empty({2, E}, torch::kInt64);
  b.edge_attr = torch::empty({E, kBondFeatures}, torch::kFloat32);
  b.periodic = torch::empty({E}, torch::kBool);
  if (graph_weight) b.node_weight = torch::empty({N}, torch::kFloat32);
  float* x = b.x.data_ptr<float>();
  int64_t* z = b.atomic_number.data_ptr<int64_t>();
  int64_t* gid = b.batch.data_ptr<int64_t>();
  int64_t* ei = b.edge_index.data_ptr<int64_t>();
  float* ea = b.edge_attr.data_ptr<float>();
  bool* per = b.periodic.data_ptr<bool>();
  float* nw = graph_weight ? b.node_weight.data_ptr<float>() : nullptr;
  for (int64_t i = 0; i < B; ++i) {
    const RawGraph& r = raws[i];
    const int64_t n0 = p[i], e0 = ep[i], ne = ep[i + 1] - e0;
    if (r.num_nodes > 0) {
      std::memcpy(x + n0 * kAtomFeatures, r.x.data(), sizeof(float) * r.x.size());
      std::memcpy(z + n0, r.z.data(), sizeof(int64_t) * r.z.size());
    }
    std::fill(gid + n0, gid + p[i + 1], i);
    if (nw) std::fill(nw + n0, nw + p[i + 1], static_cast<float>(graph_weight[i]));
    for (int64_t e = 0; e < ne; ++e) {
      ei[e0 + e] = r.src[e] + n0;
      ei[E + e0 + e] = r.dst[e] + n0;
      per[e0 + e] = r.periodic[e] != 0;
    }
    if (ne > 0) std::memcpy(ea + e0 * kBondFeatures, r.edge_attr.data(), sizeof(float) * r.edge_attr.size());
  }
  b.ptr = ptr;
  b.edge_ptr = eptr;
  return b;
}

using MolPtr = std::unique_ptr<RDKit::RWMol>;

/// True on a thread while it runs a chunk of a parallel batch: there the
/// RDKit log must not be swapped (other threads may be logging), so a
/// failure is only noted, and for_each_smiles redoes the failing item on
/// the calling thread afterwards to get RDKit's message.
thread_local bool t_in_parallel_batch = false;

/// RDKit reports why a SMILES failed only to its error log. Parse it again
/// with the log pointed at a string (serialised: the log is global), and
/// return the lines without their time stamps.
std::string rdkit_parse_message(const std::string& smiles) {
  if (t_in_parallel_batch) return "(message collected after the batch)";
  static std::mutex log_mutex;
  std::ostringstream captured;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    RDLogger saved = rdErrorLog;
    rdErrorLog = std::make_shared<boost::logging::rdLogger>(&captured);
    try {
      MolPtr again(RDKit::SmilesToMol(smiles));
    } catch (const std::exception& e) {
      captured << e.what() << '\n';
    }
    rdErrorLog = saved;
  }
  std::string out, line;
  std::istringstream lines(captured.str());
  while (std::getline(lines, line)) {
    // "[05:36:41] SMILES Parse Error: ..." -> "SMILES Parse Error: ..."
    if (!line.empty() && line[0] == '[') {
      const auto close = line.find("] ");
      if (close != std::string::npos && close < 16) line.erase(0, close + 2);
    }
    if (line.empty()) continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out.empty() ? std::string("RDKit rejected it without a message") : out;
}

/// SmilesToMol with RDKit's defaults (sanitise, remove Hs), as
/// Chem.MolFromSmiles; InputError naming the SMILES with RDKit's message.
MolPtr parse_smiles(const std::string& smiles, const std::string& at) {
  SOZAI_CHECK(smiles.find_first_not_of(" \t\r\n") != std::string::npos, at, "SMILES is empty");
  MolPtr mol;
  try {
    mol.reset(RDKit::SmilesToMol(smiles));
  } catch (const std::exception& e) {
    // Sanitisation errors are caught and logged inside SmilesToMol; what
    // escapes is rare (CXSMILES extensions), but still a bad input.
    throw InputError(str(at, "RDKit could not parse '", smiles, "': ", e.what()));
  }
  if (!mol) throw InputError(str(at, "RDKit could not parse '", smiles, "': ", rdkit_parse_message(smiles)));
  return mol;
}

/// The end markers of a repeat unit and the atoms they are bonded to.
struct EndMarkers {
  std::vector<unsigned> markers;  // atom indices of atomic number 0, ascending
  unsigned a = 0, b = 0;          // neighbours of markers[0] and markers[1]
};

EndMarkers find_end_markers(const RDKit::ROMol& mol, const std::string& smiles, const std::string& at) {
  EndMarkers m;
  for (const auto atom : mol.atoms()) {
    if (atom->getAtomicNum() == 0) m.markers.push_back(atom->getIdx());
  }
  SOZAI_CHECK(m.markers.empty() || m.markers.size() == 2, at, "'", smiles, "' has ", m.markers.size(),
              " end markers (*); a polymer repeat unit needs exactly two, a molecule none");
  for (size_t k = 0; k < m.markers.size(); ++k) {
    const RDKit::Atom* marker = mol.getAtomWithIdx(m.markers[k]);
    SOZAI_CHECK(marker->getDegree() == 1, at, "'", smiles, "': end marker ", k + 1, " (atom ", marker->getIdx(),
                ") is bonded to ", marker->getDegree(), " atoms; an end marker must be bonded to exactly one");
    const RDKit::Atom* nb = *mol.atomNeighbors(marker).begin();
    SOZAI_CHECK(nb->getAtomicNum() != 0, at, "'", smiles, "': the two end markers are bonded to each other; "
                "the repeat unit has no atoms between them");
    (k == 0 ? m.a : m.b) = nb->getIdx();
  }
  return m;
}

void atom_features(const RDKit::ROMol& mol, const RDKit::Atom* atom, float* row) {
  const int Z = static_cast<int>(atom->getAtomicNum());
  const auto el = std::find(kElements.begin(), kElements.end(), Z);
  row[kOffElement + static_cast<int>(el - kElements.begin())] = 1;  // end() is the "other" column
  row[kOffDegree + bucket(static_cast<int>(atom->getDegree()), kMaxDegree + 1)] = 1;
  row[kOffCharge + bucket(atom->getFormalCharge() - kMinCharge, kNumCharges)] = 1;
  // RDKit's enum: UNSPECIFIED, S, SP, SP2, SP3, SP3D, SP3D2, OTHER.
  row[kOffHybrid + bucket(static_cast<int>(atom->getHybridization()) - 1, kNumHybrid)] = 1;
  row[kOffAromatic] = atom->getIsAromatic() ? 1.f : 0.f;
  row[kOffHs + bucket(static_cast<int>(atom->getTotalNumHs()), kMaxHs + 1)] = 1;
  row[kOffRing] = mol.getRingInfo()->numAtomRings(atom->getIdx()) > 0 ? 1.f : 0.f;
  // RDKit's enum starts UNSPECIFIED, CW, CCW; the later ones are "other".
  row[kOffChiral + bucket(static_cast<int>(atom->getChiralTag()), kNumChiral)] = 1;
}

void bond_features(const RDKit::ROMol& mol, const RDKit::Bond* bond, bool periodic, float* row) {
  int type = kNumBondTypes;
  switch (bond->getBondType()) {
    case RDKit::Bond::SINGLE: type = 0; break;
    case RDKit::Bond::DOUBLE: type = 1; break;
    case RDKit::Bond::TRIPLE: type = 2; break;
    case RDKit::Bond::AROMATIC: type = 3; break;
    default: break;
  }
  row[kOffBondType + type] = 1;
  row[kOffConjugated] = bond->getIsConjugated() ? 1.f : 0.f;
  row[kOffBondRing] = mol.getRingInfo()->numBondRings(bond->getIdx()) > 0 ? 1.f : 0.f;
  // RDKit's enum: NONE, ANY, Z, E, CIS, TRANS, then newer kinds ("other").
  row[kOffStereo + bucket(static_cast<int>(bond->getStereo()), kNumStereo)] = 1;
  row[kOffPeriodic] = periodic ? 1.f : 0.f;
}

/// SMILES -> RawGraph; `at` prefixes error messages.
RawGraph build_raw(const RDKit::ROMol& molecule, const std::string& smiles, const std::string& at) {
  const RDKit::ROMol* mol = &molecule;
  const EndMarkers ends = find_end_markers(*mol, smiles, at);
  RawGraph r;
  r.polymer = !ends.markers.empty();

  const unsigned n_atoms = mol->getNumAtoms();
  std::vector<int64_t> node_of(n_atoms, -1);  // RDKit atom index -> node, -1 for a marker
  for (unsigned i = 0; i < n_atoms; ++i) {
    if (mol->getAtomWithIdx(i)->getAtomicNum() != 0 || !r.polymer) node_of[i] = r.num_nodes++;
  }
  r.x.assign(static_cast<size_t>(r.num_nodes) * kAtomFeatures, 0.f);
  r.z.resize(r.num_nodes);
  for (unsigned i = 0; i < n_atoms; ++i) {
    if (node_of[i] < 0) continue;
    const RDKit::Atom* atom = mol->getAtomWithIdx(i);
    atom_features(*mol, atom, r.x.data() + node_of[i] * kAtomFeatures);
    r.z[node_of[i]] = atom->getAtomicNum();
  }

  const unsigned n_bonds = mol->getNumBonds();
  r.src.reserve(2 * n_bonds);
  r.dst.reserve(2 * n_bonds);
  r.edge_attr.reserve(2 * n_bonds * kBondFeatures);
  r.periodic.reserve(2 * n_bonds);
  auto add_pair = [&](int64_t u, int64_t v, const RDKit::Bond* bond, bool periodic) {
    const size_t e = r.src.size();
    r.edge_attr.resize((e + 2) * kBondFeatures, 0.f);
    bond_features(*mol, bond, periodic, r.edge_attr.data() + e * kBondFeatures);
    std::copy_n(r.edge_attr.data() + e * kBondFeatures, kBondFeatures, r.edge_attr.data() + (e + 1) * kBondFeatures);
    r.src.push_back(u);
    r.dst.push_back(v);
    r.src.push_back(v);
    r.dst.push_back(u);
    r.periodic.push_back(periodic);
    r.periodic.push_back(periodic);
  };
  for (const auto bond : mol->bonds()) {
    const int64_t u = node_of[bond->getBeginAtomIdx()], v = node_of[bond->getEndAtomIdx()];
    if (u < 0 || v < 0) continue;  // a bond to an end marker: becomes the periodic bond
    add_pair(u, v, bond, false);
  }
  if (r.polymer) {
    const RDKit::Bond* to_marker = mol->getBondBetweenAtoms(ends.markers[0], ends.a);
    add_pair(node_of[ends.a], node_of[ends.b], to_marker, true);
  }
  return r;
}

RawGraph build_raw(const std::string& smiles, const std::string& at) {
  return build_raw(*parse_smiles(smiles, at), smiles, at);
}

MaterialGraph to_graph(RawGraph&& r) {
  std::vector<RawGraph> one;
  one.push_back(std::move(r));
  return assemble(one, one[0].polymer ? "polymer" : "molecule", nullptr).graph(0);
}

/// Runs body(i, at) for i in [0, n) over LibTorch's threads. The lowest
/// failing index is redone on the calling thread, outside the parallel
/// region, and its InputError thrown: the error a user sees names the first
/// bad SMILES whatever the thread timing, with RDKit's full message.
template <typename Body>
void for_each_smiles(const char* fn, const std::vector<std::string>& smiles, int64_t grain, Body body) {
  const int64_t n = static_cast<int64_t>(smiles.size());
  std::vector<uint8_t> failed(n, 0);
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    struct Flag {
      bool saved = t_in_parallel_batch;
      Flag() { t_in_parallel_batch = true; }
      ~Flag() { t_in_parallel_batch = saved; }
    } flag;
    for (int64_t i = begin; i < end; ++i) {
      try {
        body(i, where(fn, i));
      } catch (const InputError&) {
        failed[i] = 1;
      }
    }
  });
  const auto first = std::find(failed.begin(), failed.end(), 1);
  if (first != failed.end()) {
    const int64_t i = first - failed.begin();
    body(i, where(fn, i));  // throws again, now with RDKit's message
    SOZAI_ASSERT(false);    // a SMILES that failed once must fail again
  }
}

using MorganGen = std::unique_ptr<RDKit::FingerprintGenerator<std::uint32_t>>;

/// RDKit's Morgan generator with the defaults of Python's
/// rdFingerprintGenerator.GetMorganGenerator(radius, fpSize=n_bits).
/// Kept per thread and per (radius, n_bits): making one costs about as much
/// as fingerprinting a small repeat unit, and not sharing one across
/// threads keeps us clear of any state it holds.
const MorganGen& morgan_generator(int64_t radius, int64_t n_bits) {
  thread_local MorganGen gen;
  thread_local int64_t gen_radius = -1, gen_bits = -1;
  if (!gen || gen_radius != radius || gen_bits != n_bits) {
    gen.reset(RDKit::MorganFingerprint::getMorganGenerator<std::uint32_t>(
        static_cast<unsigned>(radius), /*countSimulation=*/false, /*includeChirality=*/false,
        /*useBondTypes=*/true, /*onlyNonzeroInvariants=*/false, nullptr, nullptr,
        static_cast<std::uint32_t>(n_bits)));
    gen_radius = radius;
    gen_bits = n_bits;
  }
  return gen;
}

/// Sets the on bits of `mol` in words[0 .. ceil(n_bits / 64)) (zeroed by
/// the caller): bit k in word k / 64 at position k % 64, as pack_bits.
void fingerprint_words(const MorganGen& gen, const RDKit::ROMol& mol, int64_t* words) {
  std::unique_ptr<ExplicitBitVect> fp(gen->getFingerprint(mol));
  std::vector<int> on;
  fp->getOnBits(on);
  for (int k : on) words[k >> 6] |= static_cast<int64_t>(uint64_t{1} << (k & 63));
}

/// Writes the hashed counts of `mol` into counts[0 .. n_bits) (zeroed).
void fingerprint_counts(const MorganGen& gen, const RDKit::ROMol& mol, int32_t* counts) {
  std::unique_ptr<RDKit::SparseIntVect<std::uint32_t>> fp(gen->getCountFingerprint(mol));
  for (const auto& kv : fp->getNonzeroElements()) counts[kv.first] = static_cast<int32_t>(kv.second);
}

/// [n, ceil(n_bits / 64)] words of many SMILES.
torch::Tensor fingerprints_impl(const char* fn, const std::vector<std::string>& smiles, int64_t radius,
                                int64_t n_bits) {
  check_fingerprint_args(fn, radius, n_bits);
  const int64_t n = static_cast<int64_t>(smiles.size()), w = (n_bits + 63) / 64;
  auto out = torch::zeros({n, w}, torch::kInt64);
  int64_t* words = out.data_ptr<int64_t>();
  for_each_smiles(fn, smiles, 32, [&](int64_t i, const std::string& at) {
    fingerprint_words(morgan_generator(radius, n_bits), *parse_smiles(smiles[i], at), words + i * w);
  });
  return out;
}

/// [n, n_bits] counts of many SMILES.
torch::Tensor counts_impl(const char* fn, const std::vector<std::string>& smiles, int64_t radius, int64_t n_bits) {
  check_fingerprint_args(fn, radius, n_bits);
  const int64_t n = static_cast<int64_t>(smiles.size());
  auto out = torch::zeros({n, n_bits}, torch::kInt32);
  int32_t* counts = out.data_ptr<int32_t>();
  for_each_smiles(fn, smiles, 32, [&](int64_t i, const std::string& at) {
    fingerprint_counts(morgan_generator(radius, n_bits), *parse_smiles(smiles[i], at), counts + i * n_bits);
  });
  return out;
}

/// RawGraphs of many SMILES, in parallel.
std::vector<RawGraph> build_raws(const char* fn, const std::vector<std::string>& smiles) {
  std::vector<RawGraph> raws(smiles.size());
  for_each_smiles(fn, smiles, 16, [&](int64_t i, const std::string& at) { raws[i] = build_raw(smiles[i], at); });
  return raws;
}

/// Whole-batch kind check shared by polymer_graphs and polymer_features.
std::string batch_kind(const char* fn, const std::vector<RawGraph>& raws, const std::vector<std::string>& smiles) {
  for (size_t i = 1; i < raws.size(); ++i) {
    SOZAI_CHECK(raws[i].polymer == raws[0].polymer, fn, ": SMILES #", i, " '", smiles[i], "' is a ",
                raws[i].polymer ? "polymer" : "molecule", " but SMILES #0 '", smiles[0], "' is a ",
                raws[0].polymer ? "polymer" : "molecule", "; a batch holds one kind (use polymer_blend to mix)");
  }
  return raws[0].polymer ? "polymer" : "molecule";
}

#endif  // SOZAI_WITH_RDKIT

std::vector<std::string> make_atom_feature_names() {
  std::vector<std::string> names;
  for (const char* s : kElementSymbols) names.push_back(str("element=", s));
  names.push_back("element=other");
  for (int d = 0; d <= kMaxDegree; ++d) names.push_back(str("degree=", d));
  names.push_back("degree=other");
  for (int c = kMinCharge; c < kMinCharge + kNumCharges; ++c) names.push_back(str("formal_charge=", c));
  names.push_back("formal_charge=other");
  for (const char* h : {"S", "SP", "SP2", "SP3", "SP3D", "SP3D2"}) names.push_back(str("hybridization=", h));
  names.push_back("hybridization=other");
  names.push_back("aromatic");
  for (int h = 0; h <= kMaxHs; ++h) names.push_back(str("total_hs=", h));
  names.push_back("total_hs=other");
  names.push_back("in_ring");
  for (const char* c : {"unspecified", "CW", "CCW", "other"}) names.push_back(str("chirality=", c));
  SOZAI_ASSERT(static_cast<int>(names.size()) == kAtomFeatures);
  return names;
}

std::vector<std::string> make_bond_feature_names() {
  std::vector<std::string> names;
  for (const char* t : {"single", "double", "triple", "aromatic", "other"}) names.push_back(str("bond_type=", t));
  names.push_back("conjugated");
  names.push_back("in_ring");
  for (const char* s : {"none", "any", "Z", "E", "cis", "trans", "other"}) names.push_back(str("stereo=", s));
  names.push_back("periodic");
  SOZAI_ASSERT(static_cast<int>(names.size()) == kBondFeatures);
  return names;
}

}  // namespace

const std::vector<std::string>& polymer_atom_feature_names() {
  static const std::vector<std::string> names = make_atom_feature_names();
  return names;
}

const std::vector<std::string>& polymer_bond_feature_names() {
  static const std::vector<std::string> names = make_bond_feature_names();
  return names;
}

MaterialGraph polymer_graph(const std::string& smiles) {
#ifdef SOZAI_WITH_RDKIT
  return to_graph(build_raw(smiles, where("polymer_graph", -1)));
#else
  require_feature("rdkit", "polymer_graph");
  return {};
#endif
}

GraphBatch polymer_graphs(const std::vector<std::string>& smiles) {
#ifdef SOZAI_WITH_RDKIT
  SOZAI_CHECK(!smiles.empty(), "polymer_graphs: no SMILES given");
  const std::vector<RawGraph> raws = build_raws("polymer_graphs", smiles);
  return assemble(raws, batch_kind("polymer_graphs", raws, smiles), nullptr);
#else
  require_feature("rdkit", "polymer_graphs");
  return {};
#endif
}

PolymerFeatures polymer_features(const std::vector<std::string>& smiles, int64_t radius, int64_t n_bits) {
#ifdef SOZAI_WITH_RDKIT
  const char* fn = "polymer_features";
  SOZAI_CHECK(!smiles.empty(), fn, ": no SMILES given");
  check_fingerprint_args(fn, radius, n_bits);
  const int64_t n = static_cast<int64_t>(smiles.size()), w = (n_bits + 63) / 64;
  PolymerFeatures out;
  out.fingerprints = torch::zeros({n, w}, torch::kInt64);
  int64_t* words = out.fingerprints.data_ptr<int64_t>();
  std::vector<RawGraph> raws(smiles.size());
  for_each_smiles(fn, smiles, 16, [&](int64_t i, const std::string& at) {
    const MolPtr mol = parse_smiles(smiles[i], at);
    raws[i] = build_raw(*mol, smiles[i], at);
    fingerprint_words(morgan_generator(radius, n_bits), *mol, words + i * w);
  });
  out.graphs = assemble(raws, batch_kind(fn, raws, smiles), nullptr);
  return out;
#else
  require_feature("rdkit", "polymer_features");
  return {};
#endif
}

torch::Tensor morgan_fingerprint(const std::string& smiles, int64_t radius, int64_t n_bits) {
  return morgan_fingerprint(std::vector<std::string>{smiles}, radius, n_bits)[0];
}

torch::Tensor morgan_fingerprint(const std::vector<std::string>& smiles, int64_t radius, int64_t n_bits) {
#ifdef SOZAI_WITH_RDKIT
  return fingerprints_impl("morgan_fingerprint", smiles, radius, n_bits);
#else
  require_feature("rdkit", "morgan_fingerprint");
  return {};
#endif
}

torch::Tensor morgan_counts(const std::string& smiles, int64_t radius, int64_t n_bits) {
  return morgan_counts(std::vector<std::string>{smiles}, radius, n_bits)[0];
}

torch::Tensor morgan_counts(const std::vector<std::string>& smiles, int64_t radius, int64_t n_bits) {
#ifdef SOZAI_WITH_RDKIT
  return counts_impl("morgan_counts", smiles, radius, n_bits);
#else
  require_feature("rdkit", "morgan_counts");
  return {};
#endif
}

PolymerBlend polymer_blend(const std::vector<std::string>& smiles, const std::vector<double>& fractions) {
#ifdef SOZAI_WITH_RDKIT
  PolymerBlend blend;
  blend.fractions = normalised_fractions("polymer_blend", smiles, fractions);
  blend.smiles = smiles;
  const std::vector<RawGraph> raws = build_raws("polymer_blend", smiles);
  bool all_polymer = true, all_molecule = true;
  for (const auto& r : raws) {
    blend.kinds.push_back(r.polymer ? "polymer" : "molecule");
    all_polymer = all_polymer && r.polymer;
    all_molecule = all_molecule && !r.polymer;
  }
  const std::string kind = all_polymer ? "polymer" : all_molecule ? "molecule" : "blend";
  blend.graphs = assemble(raws, kind, blend.fractions.data_ptr<double>());
  return blend;
#else
  require_feature("rdkit", "polymer_blend");
  return {};
#endif
}

GraphBatch polymer_blend_graphs(const std::vector<std::string>& inputs) {
#ifdef SOZAI_WITH_RDKIT
  const char* fn = "polymer_blend_graphs";
  SOZAI_CHECK(!inputs.empty(), fn, ": no inputs given");
  // Every component of every input in one flat list (parsed in parallel).
  std::vector<std::string> flat;
  std::vector<double> fraction;         // normalised, per flat component
  std::vector<size_t> first{0};         // inputs[i] owns flat[first[i], first[i+1])
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<std::string> parts;
    std::vector<double> fr;
    std::stringstream ss(inputs[i]);
    std::string part;
    const bool blend = inputs[i].find('|') != std::string::npos;
    while (std::getline(ss, part, '|')) {
      const auto b = part.find_first_not_of(" \t"), e = part.find_last_not_of(" \t");
      SOZAI_CHECK(b != std::string::npos, fn, ": input #", i, " '", inputs[i], "' has an empty component");
      part = part.substr(b, e - b + 1);
      if (!blend) {
        parts.push_back(part);
        fr.push_back(1.0);
        continue;
      }
      const auto space = part.find_last_of(" \t");
      SOZAI_CHECK(space != std::string::npos, fn, ": input #", i, " component '", part,
                  "' has no fraction; write a blend as 'SMILES f | SMILES f'");
      const std::string value = part.substr(space + 1);
      char* end = nullptr;
      const double f = std::strtod(value.c_str(), &end);
      SOZAI_CHECK(end && *end == '\0' && !value.empty(), fn, ": input #", i, " component '", part,
                  "': fraction '", value, "' is not a number");
      parts.push_back(part.substr(0, part.find_last_not_of(" \t", space) + 1));
      fr.push_back(f);
    }
    const torch::Tensor f = normalised_fractions(fn, parts, fr);
    for (size_t c = 0; c < parts.size(); ++c) {
      flat.push_back(parts[c]);
      fraction.push_back(f.data_ptr<double>()[c]);
    }
    first.push_back(flat.size());
  }
  std::vector<RawGraph> parts;
  try {
    parts = build_raws(fn, flat);
  } catch (const InputError& e) {
    throw InputError(str(e.what(), " (components of all inputs are numbered together)"));
  }
  // Merge each input's components into one raw graph; weights per node.
  std::vector<RawGraph> raws(inputs.size());
  std::vector<float> weight;
  bool any_polymer = false, any_molecule = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    RawGraph& g = raws[i];
    g.polymer = true;
    for (size_t c = first[i]; c < first[i + 1]; ++c) {
      const RawGraph& r = parts[c];
      g.polymer = g.polymer && r.polymer;
      (r.polymer ? any_polymer : any_molecule) = true;
      for (int64_t e = 0; e < static_cast<int64_t>(r.src.size()); ++e) {
        g.src.push_back(r.src[e] + g.num_nodes);
        g.dst.push_back(r.dst[e] + g.num_nodes);
      }
      g.x.insert(g.x.end(), r.x.begin(), r.x.end());
      g.z.insert(g.z.end(), r.z.begin(), r.z.end());
      g.edge_attr.insert(g.edge_attr.end(), r.edge_attr.begin(), r.edge_attr.end());
      g.periodic.insert(g.periodic.end(), r.periodic.begin(), r.periodic.end());
      g.num_nodes += r.num_nodes;
      weight.insert(weight.end(), static_cast<size_t>(r.num_nodes),
                    static_cast<float>(fraction[c] / std::max<int64_t>(r.num_nodes, 1)));
    }
  }
  GraphBatch b = assemble(raws, any_polymer && any_molecule ? "blend" : any_polymer ? "polymer" : "molecule", nullptr);
  b.node_weight = torch::from_blob(weight.data(), {static_cast<int64_t>(weight.size())}, torch::kFloat32).clone();
  return b;
#else
  require_feature("rdkit", "polymer_blend_graphs");
  return {};
#endif
}

torch::Tensor blend_fingerprint_counts(const std::vector<std::string>& smiles, const std::vector<double>& fractions,
                                       int64_t radius, int64_t n_bits) {
#ifdef SOZAI_WITH_RDKIT
  const torch::Tensor f = normalised_fractions("blend_fingerprint_counts", smiles, fractions);
  const torch::Tensor counts = counts_impl("blend_fingerprint_counts", smiles, radius, n_bits);
  // [B] x [B, n_bits] in float64: exact for any realistic count.
  return torch::matmul(f, counts.to(torch::kFloat64));
#else
  require_feature("rdkit", "blend_fingerprint_counts");
  return {};
#endif
}

PolymerComposite composite(const std::string& matrix_smiles, const std::string& filler_formula,
                           double volume_fraction) {
#ifdef SOZAI_WITH_RDKIT
  SOZAI_CHECK(std::isfinite(volume_fraction) && volume_fraction >= 0 && volume_fraction <= 1,
              "composite: volume_fraction must be in [0, 1], got ", volume_fraction, " (filler '", filler_formula,
              "' in '", matrix_smiles, "')");
  PolymerComposite c;
  c.matrix_smiles = matrix_smiles;
  c.matrix_kind = build_raw(matrix_smiles, "composite: matrix_smiles ").polymer ? "polymer" : "molecule";
  try {
    c.filler = parse_formula(filler_formula);
  } catch (const InputError& e) {
    throw InputError(str("composite: filler_formula: ", e.what()));
  }
  c.filler_formula = filler_formula;
  c.volume_fraction = volume_fraction;
  return c;
#else
  require_feature("rdkit", "composite");
  return {};
#endif
}

}  // namespace sozai
