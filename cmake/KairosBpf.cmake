# BPF objects and libbpf skeletons.
#   kairos_bpf_skeleton(NAME <name> SOURCE <file.bpf.c> [SCHED_EXT]
#                       [DEFINES MACRO...])
# builds <name>.bpf.o with clang -target bpf (-DMACRO for each DEFINES) and
# <name>.skel.h with bpftool, and defines the interface library <name>_skel
# that brings in the skeleton and libbpf. SCHED_EXT programs compile against
# vmlinux.h of the target kernel; others against the UAPI headers only.
find_program(KAIROS_CLANG NAMES clang-19 clang-18 clang-17 clang REQUIRED)
find_program(KAIROS_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf>=1.4)
pkg_check_modules(LIBXDP IMPORTED_TARGET libxdp)

execute_process(COMMAND ${KAIROS_CLANG} -dumpversion
                OUTPUT_VARIABLE _clang_ver OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_clang_ver VERSION_LESS 17)
  message(FATAL_ERROR "clang ${_clang_ver} is too old for sched_ext BPF "
          "(need >= 17); run tools/dev setup")
endif()

set(KAIROS_VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
add_custom_command(
  OUTPUT ${KAIROS_VMLINUX_DIR}/vmlinux.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${KAIROS_VMLINUX_DIR}
  COMMAND ${CMAKE_SOURCE_DIR}/tools/vmlinux-h.sh ${KAIROS_KERNEL_BTF_SOURCE}
          ${KAIROS_VMLINUX_DIR}/vmlinux.h ${KAIROS_BPFTOOL}
  DEPENDS ${CMAKE_SOURCE_DIR}/tools/vmlinux-h.sh
  COMMENT "vmlinux.h from the BTF of ${KAIROS_KERNEL_BTF_SOURCE}")
add_custom_target(kairos_vmlinux_h DEPENDS ${KAIROS_VMLINUX_DIR}/vmlinux.h)

execute_process(COMMAND uname -m OUTPUT_VARIABLE _arch
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_arch STREQUAL "x86_64")
  set(KAIROS_BPF_ARCH x86)
elseif(_arch STREQUAL "aarch64")
  set(KAIROS_BPF_ARCH arm64)
else()
  set(KAIROS_BPF_ARCH ${_arch})
endif()

function(kairos_bpf_skeleton)
  cmake_parse_arguments(B "SCHED_EXT" "NAME;SOURCE" "DEPENDS;DEFINES" ${ARGN})
  set(_src ${CMAKE_CURRENT_SOURCE_DIR}/${B_SOURCE})
  set(_out ${CMAKE_CURRENT_BINARY_DIR})
  set(_obj ${_out}/${B_NAME}.bpf.o)
  set(_skel ${_out}/${B_NAME}.skel.h)
  set(_flags -g -O2 -Wall -target bpf -D__TARGET_ARCH_${KAIROS_BPF_ARCH}
      -I${CMAKE_CURRENT_SOURCE_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}/include
      -I${CMAKE_SOURCE_DIR}/bpf/include)
  foreach(_d IN LISTS B_DEFINES)
    list(APPEND _flags -D${_d})
  endforeach()
  set(_deps ${_src} ${B_DEPENDS})
  if(B_SCHED_EXT)
    # v3: 32-bit atomic exchange / compare-and-swap (the owner map)
    list(APPEND _flags -I${KAIROS_VMLINUX_DIR} -Wno-missing-declarations -mcpu=v3)
    list(APPEND _deps ${KAIROS_VMLINUX_DIR}/vmlinux.h)
  else()
    list(APPEND _flags -idirafter /usr/include/${_arch}-linux-gnu)
  endif()
  file(GLOB_RECURSE _hdrs ${CMAKE_SOURCE_DIR}/bpf/include/*.h
       ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  add_custom_command(
    OUTPUT ${_obj} ${_skel}
    COMMAND ${KAIROS_CLANG} ${_flags} -c ${_src} -o ${_obj}
    COMMAND ${KAIROS_BPFTOOL} gen skeleton ${_obj} name ${B_NAME} > ${_skel}
    DEPENDS ${_deps} ${_hdrs}
    COMMENT "BPF ${B_NAME}: object and skeleton"
    VERBATIM)
  add_custom_target(${B_NAME}_bpf DEPENDS ${_obj} ${_skel})
  add_library(${B_NAME}_skel INTERFACE)
  add_dependencies(${B_NAME}_skel ${B_NAME}_bpf)
  target_include_directories(${B_NAME}_skel INTERFACE ${_out})
  target_link_libraries(${B_NAME}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
