# Finds sozai's dependencies; an optional one that is missing turns its
# option off with a message instead of failing the configure step.

find_package(Torch REQUIRED)
# LibTorch from 2.12 on refuses translation units below C++20 ("C++20 or
# later compatible compiler is required to use ATen"); Debian's 1.13 and the
# 2.x of today's GPU images take C++17.
set(SOZAI_CXX_STANDARD 17)
if(DEFINED Torch_VERSION AND Torch_VERSION VERSION_GREATER_EQUAL 2.12)
  set(SOZAI_CXX_STANDARD 20)
endif()
message(STATUS "sozai: LibTorch ${Torch_VERSION}, C++${SOZAI_CXX_STANDARD}")
find_package(nlohmann_json 3 REQUIRED)

# A CUDA-enabled LibTorch ships c10_cuda; Debian's CPU build does not.
set(SOZAI_TORCH_HAS_CUDA OFF)
foreach(_lib IN LISTS TORCH_LIBRARIES)
  if(_lib MATCHES "c10_cuda|torch_cuda")
    set(SOZAI_TORCH_HAS_CUDA ON)
  endif()
endforeach()
if(TARGET c10_cuda OR TARGET torch_cuda)
  set(SOZAI_TORCH_HAS_CUDA ON)
endif()

if(SOZAI_WITH_RDKIT)
  find_path(SOZAI_RDKIT_INCLUDE_DIR RDGeneral/versions.h PATHS /usr/include/rdkit /usr/local/include/rdkit)
  find_library(SOZAI_RDKIT_RDGENERAL RDKitRDGeneral PATHS /usr/lib /usr/local/lib)
  find_package(Boost QUIET)
  if(SOZAI_RDKIT_INCLUDE_DIR AND SOZAI_RDKIT_RDGENERAL AND Boost_FOUND)
    set(SOZAI_RDKIT_INCLUDE_DIRS ${SOZAI_RDKIT_INCLUDE_DIR} ${Boost_INCLUDE_DIRS})
    # The molecule graph, SMILES parser and Morgan fingerprints, and what
    # they link against.
    set(SOZAI_RDKIT_LIBRARIES)
    foreach(lib Fingerprints SubstructMatch SmilesParse GraphMol DataStructs RDGeneral)
      find_library(SOZAI_RDKIT_${lib} RDKit${lib} PATHS /usr/lib /usr/local/lib)
      if(SOZAI_RDKIT_${lib})
        list(APPEND SOZAI_RDKIT_LIBRARIES ${SOZAI_RDKIT_${lib}})
      endif()
    endforeach()
  else()
    message(STATUS "sozai: RDKit (or Boost headers) not found; SOZAI_WITH_RDKIT=OFF")
    set(SOZAI_WITH_RDKIT OFF CACHE BOOL "" FORCE)
  endif()
endif()

# Optional package: find it when its option is on; switch the option off
# (with a status line) when it is missing, so the build goes on without it.
macro(sozai_optional_package option package component found_var)
  if(${option})
    find_package(${package} COMPONENTS ${component} QUIET)
    if(NOT ${found_var})
      message(STATUS "sozai: ${package} not found; ${option}=OFF")
      set(${option} OFF CACHE BOOL "" FORCE)
    endif()
  endif()
endmacro()

sozai_optional_package(SOZAI_WITH_HDF5 HDF5 C HDF5_FOUND)
sozai_optional_package(SOZAI_WITH_MPI MPI CXX MPI_CXX_FOUND)
