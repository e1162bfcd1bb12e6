# Installing the generated completions and man page to the standard places, and a Debian
# package with CPack (cpack -G DEB in the build folder; docs/PACKAGING.md).
include(GNUInstallDirs)
set(ESCROW_GENERATED ${PROJECT_BINARY_DIR}/generated)
install(FILES ${ESCROW_GENERATED}/escrow.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME escrow)
# zsh: a distribution's own prefix (/usr, as in the Debian package) uses vendor-completions,
# which Debian's $fpath lists; any other prefix uses site-functions, which zsh's default $fpath
# lists for its prefix. Decided at install time, as `cmake --install --prefix` and CPack choose
# the prefix then. -DESCROW_ZSH_COMPLETION_DIR=share/zsh/… forces a folder.
set(ESCROW_ZSH_COMPLETION_DIR "" CACHE STRING "where _escrow is installed, relative to the prefix (default: see above)")
install(CODE "
  set(escrow_zsh_dir \"${ESCROW_ZSH_COMPLETION_DIR}\")
  if(NOT escrow_zsh_dir)
    if(CMAKE_INSTALL_PREFIX MATCHES \"(^|/)usr/?$\")
      set(escrow_zsh_dir \"${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions\")
    else()
      set(escrow_zsh_dir \"${CMAKE_INSTALL_DATADIR}/zsh/site-functions\")
    endif()
  endif()
  file(INSTALL \"${ESCROW_GENERATED}/_escrow\" DESTINATION \"\${CMAKE_INSTALL_PREFIX}/\${escrow_zsh_dir}\")
")
install(FILES ${ESCROW_GENERATED}/escrow.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
install(FILES ${ESCROW_GENERATED}/escrow.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

set(CPACK_PACKAGE_NAME escrow)
set(CPACK_PACKAGE_VENDOR "escrow")
set(CPACK_PACKAGE_CONTACT "escrow maintainers <escrow@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "a team's shared credentials in one signed, encrypted vault in git")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_INSTALL_DIRECTORY escrow)
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/escrow")
# The shared libraries the binary links (libsodium, libfmt, libstdc++…) become Depends through
# dpkg-shlibdeps; git is what escrow's sync and merge driver call.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "git")
# The connector kinds' client libraries are loaded when a connector first needs them (dlopen, so
# dpkg-shlibdeps cannot see them): postgres, http/node-red, mysql.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5, libcurl4, libmariadb3, libssl3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
include(CPack)
