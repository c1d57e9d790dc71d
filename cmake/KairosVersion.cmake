# <kairos/version.hpp>: the project version for every binary's --version,
# generated once into the build tree (target kairos_version).
set(KAIROS_GENERATED_INCLUDE_DIR ${CMAKE_BINARY_DIR}/generated/include)
configure_file(${CMAKE_CURRENT_LIST_DIR}/kairos_version.hpp.in
               ${KAIROS_GENERATED_INCLUDE_DIR}/kairos/version.hpp @ONLY)
add_library(kairos_version INTERFACE)
target_include_directories(kairos_version INTERFACE
  $<BUILD_INTERFACE:${KAIROS_GENERATED_INCLUDE_DIR}>)
