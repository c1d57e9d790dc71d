# What `cmake --install` (and the Debian packages, cmake/KairosPackaging.cmake)
# put on a machine. Components:
#   daemon  kairosd, kairosctl and the user tools, their man pages and bash
#           completion, the systemd units and /etc/default/kairosd, the BPF
#           objects (package kairos)
#   dev     libkairos: static libraries, headers, pkg-config files, the CMake
#           package Kairos (package libkairos-dev)
#   dkms    kairos.ko's sources and dkms.conf, modules-load.d (package kairos-dkms)
# A system service: /usr unless the build tree was configured otherwise.
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX /usr CACHE PATH "install prefix" FORCE)
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# ---- daemon -----------------------------------------------------------------
if(NOT KAIROS_HOST_ONLY)
  install(TARGETS kairosd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT daemon)
  install(TARGETS kairosctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemon)
endif()
# Tools for users: load generation against a real service, and the allocator
# simulator. Test helpers (spinserver, udpload, kairos-echo) stay in the
# build tree.
install(TARGETS kairos-loadgen kairos-sim
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemon)

# kairosd embeds its BPF programs (libbpf skeletons); the objects are
# installed for DPDK's net_af_xdp (xdp_prog=) and for inspection with bpftool.
set(KAIROS_BPF_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/kairos/bpf)
if(NOT KAIROS_HOST_ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/bpf/kairos_sched.bpf.o
                ${CMAKE_BINARY_DIR}/xdp/kairos_steer.bpf.o
          DESTINATION ${KAIROS_BPF_INSTALL_DIR} COMPONENT daemon)
endif()

install(FILES ${CMAKE_SOURCE_DIR}/docs/man/kairosd.8 ${CMAKE_SOURCE_DIR}/docs/man/kairosctl.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT daemon)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/kairos-loadgen.1 ${CMAKE_SOURCE_DIR}/docs/man/kairos-sim.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT daemon)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/bash-completion/kairosctl
              ${CMAKE_SOURCE_DIR}/deploy/bash-completion/kairosd
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions COMPONENT daemon)

# systemd units and /etc/default/kairosd, written at install time for the
# prefix installed to (cmake/install/KairosInstallGenerated.cmake).
set(_kairos_gen_vars "
  set(KAIROS_SRC \"${CMAKE_SOURCE_DIR}\")
  set(KAIROS_BIN \"${CMAKE_BINARY_DIR}\")
  set(KAIROS_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(KAIROS_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(KAIROS_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")")
install(CODE "${_kairos_gen_vars}\n  set(KAIROS_GEN units)" COMPONENT daemon)
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/install/KairosInstallGenerated.cmake COMPONENT daemon)

# ---- dev: libkairos ---------------------------------------------------------
# Installed names: libkairos.a (the runtime), libkairos_net.a,
# libkairos_contracts.a; imported targets Kairos::kairos, Kairos::net,
# Kairos::contracts.
set_target_properties(kairos_runtime PROPERTIES OUTPUT_NAME kairos EXPORT_NAME kairos)
set_target_properties(kairos_net PROPERTIES OUTPUT_NAME kairos_net EXPORT_NAME net)
set_target_properties(kairos_contracts PROPERTIES OUTPUT_NAME kairos_contracts
                      EXPORT_NAME contracts)
set_target_properties(kairos_kmod_uapi PROPERTIES EXPORT_NAME kmod_uapi)
# <linux/kairos.h> goes under kairos/uapi, away from the kernel's own.
set(KAIROS_UAPI_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/kairos/uapi)
target_include_directories(kairos_kmod_uapi INTERFACE
  $<INSTALL_INTERFACE:${KAIROS_UAPI_INCLUDE_DIR}>)
foreach(t kairos_runtime kairos_net kairos_contracts)
  target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
install(TARGETS kairos_runtime kairos_net kairos_contracts kairos_kmod_uapi
        EXPORT KairosTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# Stripped installs (cmake --install --strip, the packages) drop the static
# libraries' debug information too; install(TARGETS) only strips programs.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    foreach(a kairos kairos_net kairos_contracts)
      execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/lib\${a}.a\"
        COMMAND_ERROR_IS_FATAL ANY)
    endforeach()
  endif()" COMPONENT dev)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/runtime/include/ ${CMAKE_SOURCE_DIR}/contracts/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${KAIROS_GENERATED_INCLUDE_DIR}/kairos/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kairos COMPONENT dev)
install(FILES ${CMAKE_SOURCE_DIR}/kmod/include/uapi/linux/kairos.h
        DESTINATION ${KAIROS_UAPI_INCLUDE_DIR}/linux COMPONENT dev)

set(KAIROS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Kairos)
install(EXPORT KairosTargets NAMESPACE Kairos:: DESTINATION ${KAIROS_CMAKE_DIR}
        COMPONENT dev)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/install/KairosConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake-install/KairosConfig.cmake
  INSTALL_DESTINATION ${KAIROS_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake-install/KairosConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake-install/KairosConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake-install/KairosConfigVersion.cmake
        DESTINATION ${KAIROS_CMAKE_DIR} COMPONENT dev)

install(CODE "${_kairos_gen_vars}\n  set(KAIROS_GEN pkgconfig)" COMPONENT dev)
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/install/KairosInstallGenerated.cmake COMPONENT dev)

# ---- dkms: kairos.ko from source on the target machine ----------------------
# DKMS looks in /usr/src whatever the prefix.
set(KAIROS_DKMS_DIR /usr/src/kairos-${PROJECT_VERSION})
configure_file(${CMAKE_SOURCE_DIR}/deploy/dkms/dkms.conf.in
               ${CMAKE_BINARY_DIR}/deploy/dkms/dkms.conf @ONLY)
install(FILES ${CMAKE_SOURCE_DIR}/Kbuild ${CMAKE_BINARY_DIR}/deploy/dkms/dkms.conf
        DESTINATION ${KAIROS_DKMS_DIR} COMPONENT dkms)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/kmod/ DESTINATION ${KAIROS_DKMS_DIR}/kmod
        COMPONENT dkms FILES_MATCHING PATTERN "*.c" PATTERN "*.h")
install(FILES ${CMAKE_SOURCE_DIR}/deploy/modules-load.d/kairos.conf
        DESTINATION lib/modules-load.d COMPONENT dkms)
