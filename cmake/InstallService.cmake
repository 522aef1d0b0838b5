# Runs at install time (cmake --install, make install, cpack): installs the
# systemd unit, the system user and the config files, with the paths of the
# prefix being installed to. For cpack, CMAKE_INSTALL_PREFIX is the package's
# prefix (/usr) and DESTDIR its staging directory; for `cmake --install
# --prefix P`, P. Under the prefix /usr the config lives in /etc, as
# GNUInstallDirs has it; under any other prefix in <prefix>/etc. file(INSTALL)
# puts DESTDIR in front of these absolute paths by itself.
#
# Expects PGSTREAM_SOURCE_DIR and PGSTREAM_BINARY_DIR (set by Packaging.cmake).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(sysconfdir /etc)
else()
  set(sysconfdir "${prefix}/etc")
endif()

file(READ "${PGSTREAM_SOURCE_DIR}/deploy/systemd/pgstream.service" unit)
string(REPLACE "/usr/bin/pgstream" "${prefix}/bin/pgstream" unit "${unit}")
string(REPLACE "/etc/pgstream/" "${sysconfdir}/pgstream/" unit "${unit}")
string(REPLACE "/etc/default/pgstream" "${sysconfdir}/default/pgstream" unit "${unit}")
string(REPLACE "/usr/share/doc/pgstream/" "${prefix}/share/doc/pgstream/" unit "${unit}")
file(WRITE "${PGSTREAM_BINARY_DIR}/deploy/pgstream.service" "${unit}")

file(INSTALL "${PGSTREAM_BINARY_DIR}/deploy/pgstream.service"
     DESTINATION "${prefix}/lib/systemd/system")
file(INSTALL "${PGSTREAM_SOURCE_DIR}/deploy/systemd/pgstream.sysusers"
     DESTINATION "${prefix}/lib/sysusers.d" RENAME pgstream.conf)
file(INSTALL "${PGSTREAM_SOURCE_DIR}/config/pgstream.example.yaml"
     DESTINATION "${sysconfdir}/pgstream" RENAME pgstream.yaml.example)
# The unit's EnvironmentFile holds secrets (PGPASSWORD): root only.
file(INSTALL "${PGSTREAM_SOURCE_DIR}/deploy/systemd/pgstream.default"
     DESTINATION "${sysconfdir}/default" RENAME pgstream
     PERMISSIONS OWNER_READ OWNER_WRITE)

if(NOT prefix STREQUAL "/usr" AND "$ENV{DESTDIR}" STREQUAL "")
  message(STATUS "pgstream: to run it as a service: systemd-sysusers ${prefix}/lib/sysusers.d/pgstream.conf; "
                 "systemctl daemon-reload; write ${sysconfdir}/pgstream/pgstream.yaml; systemctl enable --now pgstream")
endif()
