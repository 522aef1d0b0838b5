# Installation (`make install`, `cmake --install`) and the Debian package
# (`cpack -G DEB`, `make package`).
#
# What goes where (prefix /usr for the .deb, /usr/local by default):
#   bin/pgstream                                  the daemon (src/CMakeLists.txt)
#   lib/systemd/system/pgstream.service           the unit, its paths made to match the prefix
#   lib/sysusers.d/pgstream.conf                  the system user the unit runs as
#   <sysconfdir>/pgstream/pgstream.yaml.example   the example config (config/)
#   <sysconfdir>/default/pgstream                 the unit's EnvironmentFile (secrets; mode 0600)
#   share/doc/pgstream/                           README, OPERATIONS.md, CONFIGURATION.md
# <sysconfdir> is /etc for the prefix /usr (GNUInstallDirs), <prefix>/etc
# otherwise (cmake/InstallService.cmake).
include(GNUInstallDirs)

# The unit, the user, the config files: their paths depend on the prefix
# installed to, known only at install time (cpack installs to /usr).
install(CODE "set(PGSTREAM_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
              set(PGSTREAM_BINARY_DIR \"${PROJECT_BINARY_DIR}\")")
install(SCRIPT cmake/InstallService.cmake)

foreach(doc README.md docs/OPERATIONS.md docs/CONFIGURATION.md)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${doc})
    install(FILES ${doc} DESTINATION ${CMAKE_INSTALL_DOCDIR})
  endif()
endforeach()

# --- cpack -G DEB (make package): one binary package, Depends from dpkg-shlibdeps.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pgstream)
set(CPACK_PACKAGE_VENDOR "pg_stream")
set(CPACK_PACKAGE_CONTACT "pg_stream maintainers <pgstream@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "incremental view maintenance for PostgreSQL over logical replication")
set(CPACK_PACKAGE_DESCRIPTION "pgstream keeps SQL query results (stream tables) continuously up to date \
inside PostgreSQL 15 and newer: it reads the logical replication stream and writes only the changed \
rows back with MERGE. Runs as the systemd service pgstream.service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser or passwd creates the system user when systemd-sysusers is absent.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser | passwd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql (>= 15)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm
    # the files under /etc: dpkg keeps an operator's edits on upgrade
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
