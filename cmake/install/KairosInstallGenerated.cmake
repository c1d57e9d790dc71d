# Runs at install time (install(SCRIPT), cmake/KairosInstall.cmake): files
# that name install paths are written for the prefix being installed to
# (cmake --install --prefix, or /usr for the Debian packages), not the one
# the build tree was configured with.
#   KAIROS_GEN: units (systemd units, /etc/default/kairosd,
#   /etc/kairos/kairosd.toml) or pkgconfig
#   KAIROS_SRC, KAIROS_BIN, KAIROS_SBINDIR, KAIROS_LIBDIR, KAIROS_INCLUDEDIR,
#   PROJECT_VERSION: from the configure step (directories relative).
set(_p "${CMAKE_INSTALL_PREFIX}")
# GNUInstallDirs' rule: /etc for the /usr prefix, PREFIX/etc otherwise.
if(_p STREQUAL "/usr")
  set(KAIROS_FULL_SYSCONFDIR /etc)
else()
  set(KAIROS_FULL_SYSCONFDIR "${_p}/etc")
endif()
set(CMAKE_INSTALL_PREFIX "${_p}")
set(CMAKE_INSTALL_FULL_SBINDIR "${_p}/${KAIROS_SBINDIR}")
set(CMAKE_INSTALL_FULL_LIBDIR "${_p}/${KAIROS_LIBDIR}")
set(CMAKE_INSTALL_FULL_INCLUDEDIR "${_p}/${KAIROS_INCLUDEDIR}")
set(_out "${KAIROS_BIN}/install-generated${_p}")

if(KAIROS_GEN STREQUAL "units")
  foreach(unit kairosd.service kairosd-kmod.service)
    configure_file("${KAIROS_SRC}/deploy/systemd/${unit}.in" "${_out}/${unit}" @ONLY)
    file(INSTALL "${_out}/${unit}" DESTINATION "${_p}/lib/systemd/system")
  endforeach()
  file(INSTALL "${KAIROS_SRC}/deploy/default/kairosd" DESTINATION "${KAIROS_FULL_SYSCONFDIR}/default")
  # The example configuration is a working one: rules commented out, no
  # dataplane; the units pass it with --config.
  file(INSTALL "${KAIROS_SRC}/deploy/kairosd.toml" DESTINATION "${KAIROS_FULL_SYSCONFDIR}/kairos")
elseif(KAIROS_GEN STREQUAL "pkgconfig")
  foreach(pc kairos kairos-net)
    configure_file("${KAIROS_SRC}/cmake/install/${pc}.pc.in" "${_out}/${pc}.pc" @ONLY)
    file(INSTALL "${_out}/${pc}.pc" DESTINATION "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig")
  endforeach()
endif()
