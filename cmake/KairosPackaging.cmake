# Debian packages with CPack, from the install components of
# cmake/KairosInstall.cmake:
#   kairos        daemon + tools + units + BPF objects   (component daemon)
#   libkairos-dev library, headers, pkg-config, CMake     (component dev)
#   kairos-dkms   kairos.ko's source + dkms.conf          (component dkms)
# Built with `cpack --config CPackConfig.cmake` in the build tree (target
# kairos_packages); maintainer scripts are in deploy/debian/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kairos)
set(CPACK_PACKAGE_VENDOR "Kairos")
set(CPACK_PACKAGE_CONTACT "Kairos maintainers <kairos@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_HOMEPAGE_URL "https://localhost/kairos")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)  # Debian packages install to /usr
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL daemon dev dkms)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

set(_deb ${CMAKE_SOURCE_DIR}/deploy/debian)
set(_deb_out ${CMAKE_BINARY_DIR}/deploy/debian)
foreach(f kairos.postinst kairos.prerm kairos.postrm kairos-dkms.postinst kairos-dkms.prerm)
  configure_file(${_deb}/${f}.in ${_deb_out}/${f}/${f} @ONLY)
endforeach()
# dpkg wants the scripts under their own names in the control archive.
foreach(pkg kairos kairos-dkms)
  file(MAKE_DIRECTORY ${_deb_out}/${pkg}-control)
endforeach()
foreach(s postinst prerm postrm)
  file(COPY_FILE ${_deb_out}/kairos.${s}/kairos.${s} ${_deb_out}/kairos-control/${s})
endforeach()
foreach(s postinst prerm)
  file(COPY_FILE ${_deb_out}/kairos-dkms.${s}/kairos-dkms.${s} ${_deb_out}/kairos-dkms-control/${s})
endforeach()
file(COPY_FILE ${_deb}/kairos.conffiles ${_deb_out}/kairos-control/conffiles)
file(CHMOD ${_deb_out}/kairos-control/postinst ${_deb_out}/kairos-control/prerm
           ${_deb_out}/kairos-control/postrm ${_deb_out}/kairos-dkms-control/postinst
           ${_deb_out}/kairos-dkms-control/prerm
     PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                 WORLD_READ WORLD_EXECUTE)

set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME kairos)
set(CPACK_DEBIAN_DAEMON_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_DAEMON_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_DAEMON_PACKAGE_RECOMMENDS "kairos-dkms (= ${PROJECT_VERSION}-1)")
set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_EXTRA
  ${_deb_out}/kairos-control/postinst ${_deb_out}/kairos-control/prerm
  ${_deb_out}/kairos-control/postrm ${_deb_out}/kairos-control/conffiles)
set(CPACK_COMPONENT_DAEMON_DESCRIPTION
  "microsecond core grants for latency-critical services\nkairosd loads the kairos sched_ext scheduler and grants latency-critical\napps (annotated cgroups) cores every few microseconds, while batch work\nuses the rest. Includes kairosctl, kairos-loadgen, kairos-sim, the systemd\nunits kairosd.service (sched_ext kernels) and kairosd-kmod.service (others).")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libkairos-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libboost-context-dev (>= 1.74), libstdc++-14-dev | libstdc++-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "Kairos runtime library (libkairos), development files\nStatic libraries, C++20 and C headers, pkg-config files (kairos,\nkairos-net) and the CMake package Kairos (find_package(Kairos):\nKairos::kairos, Kairos::net, Kairos::contracts).")

set(CPACK_DEBIAN_DKMS_PACKAGE_NAME kairos-dkms)
set(CPACK_DEBIAN_DKMS_PACKAGE_SECTION kernel)
set(CPACK_DEBIAN_DKMS_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DKMS_PACKAGE_DEPENDS "dkms (>= 3.0)")
set(CPACK_DEBIAN_DKMS_PACKAGE_CONTROL_EXTRA
  ${_deb_out}/kairos-dkms-control/postinst ${_deb_out}/kairos-dkms-control/prerm)
set(CPACK_COMPONENT_DKMS_DESCRIPTION
  "Kairos kernel module (kairos.ko), DKMS source\n/dev/kairos core grants, a MicroQuanta-like class for latency-critical\nthreads and /sys/kernel/kairos/, built by DKMS for each installed kernel\nwith headers; loaded at boot through modules-load.d.")

include(CPack)

add_custom_target(kairos_packages
  COMMAND ${CMAKE_CPACK_COMMAND} --config ${CMAKE_BINARY_DIR}/CPackConfig.cmake
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  COMMENT "Debian packages in ${CPACK_PACKAGE_DIRECTORY}")
