#pragma once
// Internal to the structure readers (structure.cpp, cif.cpp, poscar.cpp):
// what the CIF and POSCAR readers share. Not part of the public API.

#include "datasets/structure.h"

#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace sozai {
namespace structure_detail {

using std::string_view;

/// An element read from a CIF symbol or label ("Fe", "Fe1", "Fe3+", "O2-",
/// "FE"): the element is the first two letters title-cased if that is a
/// symbol, else the first letter (pymatgen's rule). For type symbols the
/// remainder may be an oxidation state: digits with a sign before or after.
struct SpeciesRead {
  int z = 0;
  double oxidation = std::numeric_limits<double>::quiet_NaN();
};
SpeciesRead read_species(string_view s, bool allow_oxidation);

/// Reads a whole token as a double; a trailing standard uncertainty "(12)"
/// and a leading '+' are allowed. False when anything else is left over.
bool read_double(string_view s, double& v);

double det3(const double L[9]);
double norm3(const double* v);
/// |det| below 1e-6 of the product of the vector lengths: the cell has (next
/// to) no volume and fractional coordinates are undefined.
bool singular(const double L[9]);
/// inv such that frac = cart . inv (row vectors), i.e. inv = L^-1.
void inverse3(const double L[9], double inv[9]);

/// What both readers collect before the tensors are made.
struct SiteList {
  std::string name;
  double lattice[9];
  std::vector<double> frac;  // 3 per site
  std::vector<int64_t> z;
  std::vector<std::string> labels;
  std::vector<double> occupancy, oxidation;
};
/// The Structure of a site list (Cartesian coordinates, species names).
Structure finish(SiteList&& s);

/// Whether s starts with the lower-case prefix, ignoring case.
bool starts_with_ci(string_view s, string_view prefix);
bool is_space(char c);

}  // namespace structure_detail
}  // namespace sozai
