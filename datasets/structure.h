#pragma once
/// Crystal structures read from text: CIF (as written by pymatgen, VESTA,
/// ICSD/COD exports and the inline CIFs of the perovskite datasets) and VASP
/// POSCAR/CONTCAR. The result, a Structure, is what crystal_graph() turns
/// into a periodic graph.
///
/// Conventions (shared with pymatgen so results compare one to one):
/// - lattice rows are the lattice vectors a, b, c in Å; a CIF's cell
///   parameters are turned into vectors as pymatgen's
///   Lattice.from_parameters does (c along z, a in the xz plane);
/// - Cartesian = fractional . lattice;
/// - CIF sites are wrapped into [0, 1) after the symmetry operations are
///   applied (as pymatgen's CifParser); POSCAR coordinates are kept as given.

#include <cstdint>
#include <string>
#include <vector>
#include <torch/types.h>

namespace sozai {

/// One periodic crystal: N sites in a cell.
struct Structure {
  std::string name;                    ///< CIF data block name, or the POSCAR comment line
  torch::Tensor lattice;               ///< [3, 3] float64, rows = lattice vectors, Å
  std::vector<std::string> species;    ///< [N] element symbols ("Fe"), oxidation suffix removed
  std::vector<std::string> labels;     ///< [N] CIF site labels ("Fe1"), or the symbol for POSCAR
  torch::Tensor atomic_number;         ///< [N] int64, 1..118
  torch::Tensor frac_coords;           ///< [N, 3] float64 fractional coordinates
  torch::Tensor cart_coords;           ///< [N, 3] float64 Cartesian coordinates, Å
  /// [N] float64 site occupancy in (0, 1]. A partially occupied CIF site is
  /// one entry per (species, position) row, not merged with the other
  /// species sharing its position; 1 for every POSCAR site.
  torch::Tensor occupancy;
  /// [N] oxidation states from CIF symbols such as "Fe3+" / "O2-" (or the
  /// _atom_type_oxidation_number loop); NaN where the file gives none.
  std::vector<double> oxidation_state;

  int64_t num_sites() const { return frac_coords.defined() ? frac_coords.size(0) : 0; }
};

/// Options of the CIF reader.
struct CifOptions {
  /// Which data block to read: 0 = the first one. InputError naming the
  /// number of blocks when there are fewer.
  int64_t block = 0;
  /// Two images of one asymmetric-unit site closer than this in every
  /// fractional coordinate (modulo 1) are one site. 1e-4, as pymatgen's
  /// CifParser(site_tolerance=1e-4).
  double site_tolerance = 1e-4;
};

/// Parses a CIF. Reads `_cell_length_a/b/c`, `_cell_angle_alpha/beta/gamma`
/// (uncertainties such as `5.431(2)` are dropped), the `_atom_site_*` loop
/// (`_fract_x/y/z`, `_type_symbol` or, without it, the element at the start
/// of `_label`, `_occupancy`), and the symmetry operators of
/// `_symmetry_equiv_pos_as_xyz` or `_space_group_symop_operation_xyz`,
/// which are applied to every asymmetric-unit site; images that coincide
/// within `site_tolerance` are kept once. Without operators the file must
/// be P1 (else UnsupportedError: sozai does not derive operators from a
/// space-group symbol). As in pymatgen, fractional coordinates within a
/// relative 1e-4 of 1/3 or 2/3 are set to exactly 1/3 or 2/3 (CIFs print
/// 0.3333, which would break symmetry merging), and sites with occupancy 0
/// are dropped. Handles comments, quoted strings, `;` text fields, several
/// data blocks and `save_` frames (skipped).
/// InputError (message names the field and the line) for a malformed
/// number, a missing cell parameter, missing coordinates, an unknown
/// element, an occupancy outside (0, 1], an unparsable symmetry operator,
/// or a singular cell.
Structure parse_cif(const std::string& text, const CifOptions& options = {});

/// Parses a VASP POSCAR/CONTCAR: comment line; scale factor (one positive
/// value scales the cell, a negative one is the cell volume in Å^3, three
/// values scale each axis); three lattice vectors; VASP 5 species line (or,
/// VASP 4, the species from the comment line as ASE reads them, else from a
/// symbol after each atom's coordinates as pymatgen reads them, else
/// InputError); the
/// counts; optional "Selective dynamics" (flags ignored); "Direct" or
/// "Cartesian" (Cartesian coordinates are scaled like the cell). Lines after
/// the coordinates (velocities, predictor-corrector) are ignored. Species
/// names such as "Fe_pv" or "Fe/0a1b" are read as their element.
/// InputError naming the line for malformed numbers, missing lines, unknown
/// elements and singular lattices.
Structure parse_poscar(const std::string& text);

/// CIF if the text has a line starting with `data_` (any case), else POSCAR.
Structure parse_structure(const std::string& text);

}  // namespace sozai
