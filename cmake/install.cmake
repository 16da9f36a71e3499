# What `cmake --install` (and `make install PREFIX=...`) puts where:
#   bin/berth                                  the command
#   LIBDIR/libberth.so.VERSION (+ SONAME link, libberth.so), libberth.a
#   include/berth/*.h                          the public headers
#   LIBDIR/pkgconfig/berth.pc                  pkg-config
#   LIBDIR/cmake/berth/                        find_package(berth)
#   share/man/man1/berth*.1, man3/berth.3      the manual (docs/man/)
#   share/bash-completion/completions/berth
include(CMakePackageConfigHelpers)

install(TARGETS berth-cmd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS berth_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${BERTH_DIST_A} DESTINATION ${CMAKE_INSTALL_LIBDIR})
# posix.h stays out until libberth-posix is installed with it (today the
# layer ships inside libberth-preload.so, for `berth run`).
install(DIRECTORY include/berth DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "posix.h" EXCLUDE)
# `berth run`'s LD_PRELOAD library (src/posix/, where built): the command
# looks for it in ../lib/berth/ from its own directory.
if(TARGET berth-preload)
  install(TARGETS berth-preload LIBRARY DESTINATION lib/berth)
endif()

# berth.pc: written at install time, when the prefix is known (cmake
# --install --prefix), with the libraries libberth.so was found to need.
set(BERTH_PC ${PROJECT_BINARY_DIR}/dist/berth.pc)
install(CODE "
  include(\"${BERTH_DEPS_CMAKE}\")
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(libdir \"${CMAKE_INSTALL_LIBDIR}\")
  set(includedir \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/berth.pc.in\" \"${BERTH_PC}\"
                 @ONLY)
")
install(FILES ${BERTH_PC} DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(BERTH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/berth)
configure_package_config_file(cmake/berth-config.cmake.in
  ${PROJECT_BINARY_DIR}/dist/berth-config.cmake
  INSTALL_DESTINATION ${BERTH_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x: only the same minor version is compatible (as the SONAME says).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(BERTH_COMPAT SameMinorVersion)
else()
  set(BERTH_COMPAT SameMajorVersion)
endif()
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/dist/berth-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${BERTH_COMPAT})
install(FILES ${PROJECT_BINARY_DIR}/dist/berth-config.cmake
              ${PROJECT_BINARY_DIR}/dist/berth-config-version.cmake
              ${BERTH_DEPS_CMAKE}
        DESTINATION ${BERTH_CMAKE_DIR})

# The manual: plain roff in docs/man/ (no tool needed), configured into
# BUILD/man/ with the version and the common options (common-options.roff,
# shared by berth(1) and the pages of the commands that run a stack).
file(READ docs/man/common-options.roff COMMON_OPTIONS)
string(REGEX REPLACE "\n$" "" COMMON_OPTIONS "${COMMON_OPTIONS}")
file(GLOB BERTH_MAN_SOURCES CONFIGURE_DEPENDS docs/man/*.1 docs/man/*.3)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             docs/man/common-options.roff)
set(BERTH_MAN_DIR ${PROJECT_BINARY_DIR}/man)
foreach(page ${BERTH_MAN_SOURCES})
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE ".*\\." "" section ${name})
  configure_file(${page} ${BERTH_MAN_DIR}/${name} @ONLY)
  install(FILES ${BERTH_MAN_DIR}/${name}
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
install(FILES completions/berth.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME berth)
