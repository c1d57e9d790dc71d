# Sanitizer builds of the whole tree, each in a build directory of its own
# (tests/fuzz, tests/sanitize make them; the main build stays as it is).
#   -DKAIROS_SANITIZE=address,undefined  every C/C++ target instrumented;
#     the first error aborts (-fno-sanitize-recover=all).
#   -DKAIROS_FUZZ=ON (clang)  the same with address,undefined plus
#     libFuzzer's coverage, and the fuzz targets of tests/fuzz.
# The BPF objects and the kernel module are built by their own commands
# and never see these flags.
set(KAIROS_SANITIZE "" CACHE STRING "Sanitizers for every C/C++ target (e.g. address,undefined)")
option(KAIROS_FUZZ "Build the libFuzzer targets of tests/fuzz (clang)" OFF)

set(_kairos_sanitize "${KAIROS_SANITIZE}")
if(KAIROS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KAIROS_FUZZ needs clang (CC=clang CXX=clang++)")
  endif()
  if(NOT _kairos_sanitize)
    set(_kairos_sanitize "address,undefined")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(_kairos_sanitize)
  # ThreadSanitizer cannot be combined with them: no TSan builds here.
  if(KAIROS_TSAN)
    message(FATAL_ERROR "KAIROS_SANITIZE/KAIROS_FUZZ exclude KAIROS_TSAN")
  endif()
  set(KAIROS_RUNTIME_TSAN_TESTS OFF CACHE BOOL "Also build the runtime with TSan for tests" FORCE)
  add_compile_options(-fsanitize=${_kairos_sanitize} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${_kairos_sanitize})
endif()
