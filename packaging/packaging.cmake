# Packaging: install layout, portable linking and CPack settings for the .deb
# and the .rpm, both made from one build tree (`ninja package` or
# `cpack -G "DEB;RPM"` in the build directory). Included as the last line of
# the top-level CMakeLists.txt so every target of the tree exists here.
#
# The version comes from project(VERSION) only; NODEAGENT_PACKAGE_VERSION_SUFFIX
# lets CI make a "newer" package from the same sources (upgrade tests).

set(NODEAGENT_PACKAGING_DIR ${CMAKE_CURRENT_LIST_DIR})
set(NODEAGENT_PACKAGE_VERSION_SUFFIX "" CACHE STRING
  "Appended to the package version, e.g. +ci42 (Debian and RPM both sort 0.1.0+ci42 after 0.1.0)")
set(NODEAGENT_PACKAGE_VERSION "${PROJECT_VERSION}${NODEAGENT_PACKAGE_VERSION_SUFFIX}")

# --- Portable binaries --------------------------------------------------------
# The RPM must run on RHEL 9-family hosts built from this Debian 12 tree. Those
# hosts ship glibc 2.34, GCC 11's libstdc++ (GLIBCXX_3.4.29), libcurl,
# libsystemd, zlib and OpenSSL 3, but no spdlog, fmt or yaml-cpp. So:
#  - yaml-cpp: Debian ships libyaml-cpp.a (PIC-safe objects): link it.
#  - spdlog, fmt: Debian ships no static archives. Both are usable header-only,
#    so their imported targets are switched to header-only compile definitions
#    and their link location to an empty archive. Every consumer of
#    spdlog::spdlog / fmt::fmt in the tree gets the same definitions (no ODR mix).
#  - libstdc++: g++ 12 emits GLIBCXX_3.4.30 references (e.g.
#    basic_string::_M_replace_cold), so it is linked statically into the
#    executables and plugins (compat/glibc_compat.c keeps its arc4random
#    call from needing glibc 2.36). Plugins keep their copy private
#    (--exclude-libs,ALL); only the C entry point and plain C++ objects cross
#    the plugin boundary, never exceptions, and allocation goes through malloc
#    in both copies.
# packaging/check-rpm-deps.sh verifies the result on the built RPM.
# Every target of the tree (used for the link options below and to find the
# plugin modules the packages ship).
function(_nodeagent_collect_targets dir out)
  get_property(_targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(_subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(_sub ${_subdirs})
    _nodeagent_collect_targets(${_sub} _more)
    list(APPEND _targets ${_more})
  endforeach()
  set(${out} ${_targets} PARENT_SCOPE)
endfunction()
_nodeagent_collect_targets(${CMAKE_SOURCE_DIR} _all_targets)
# The shipped plugins: modules of nodeagent_add_plugin() (output in <build>/plugins).
set(NODEAGENT_PACKAGED_PLUGINS "")
foreach(_t ${_all_targets})
  get_target_property(_type ${_t} TYPE)
  get_target_property(_libdir ${_t} LIBRARY_OUTPUT_DIRECTORY)
  if(_type STREQUAL "MODULE_LIBRARY" AND _libdir STREQUAL "${CMAKE_BINARY_DIR}/plugins")
    list(APPEND NODEAGENT_PACKAGED_PLUGINS ${_t})
  endif()
endforeach()

option(NODEAGENT_PORTABLE_LINK "Link spdlog, fmt, yaml-cpp and libstdc++ statically (packages for RHEL 9 too)" ON)

if(NODEAGENT_PORTABLE_LINK)
  set(_empty_archive ${CMAKE_BINARY_DIR}/packaging/libnodeagent_empty.a)
  # An ar archive without members: a valid link input that adds nothing.
  file(WRITE ${_empty_archive} "!<arch>\n")
  foreach(_cfg "" _NONE _RELEASE _RELWITHDEBINFO _DEBUG _MINSIZEREL)
    if(TARGET fmt::fmt)
      set_property(TARGET fmt::fmt PROPERTY IMPORTED_LOCATION${_cfg} ${_empty_archive})
    endif()
    if(TARGET spdlog::spdlog)
      set_property(TARGET spdlog::spdlog PROPERTY IMPORTED_LOCATION${_cfg} ${_empty_archive})
    endif()
  endforeach()
  if(TARGET fmt::fmt)
    set_property(TARGET fmt::fmt PROPERTY INTERFACE_COMPILE_DEFINITIONS "FMT_HEADER_ONLY=1")
    set_property(TARGET fmt::fmt PROPERTY IMPORTED_NO_SONAME TRUE)
  endif()
  if(TARGET spdlog::spdlog)
    set_property(TARGET spdlog::spdlog PROPERTY INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL")
    set_property(TARGET spdlog::spdlog PROPERTY IMPORTED_NO_SONAME TRUE)
  endif()
  if(TARGET yaml-cpp)
    find_library(NODEAGENT_YAML_CPP_STATIC NAMES libyaml-cpp.a)
    if(NODEAGENT_YAML_CPP_STATIC)
      foreach(_cfg "" _NONE _RELEASE _RELWITHDEBINFO _DEBUG _MINSIZEREL)
        set_property(TARGET yaml-cpp PROPERTY IMPORTED_LOCATION${_cfg} ${NODEAGENT_YAML_CPP_STATIC})
      endforeach()
      set_property(TARGET yaml-cpp PROPERTY IMPORTED_NO_SONAME TRUE)
    else()
      message(WARNING "packaging: libyaml-cpp.a not found; the RPM will need libyaml-cpp.so.0.7")
    endif()
  endif()

  # Every executable and plugin module of the tree (tests included, so they
  # exercise the same runtime as the packaged binaries).
  # libgcc stays shared (libgcc_s.so.1, which RHEL 9 ships): GCC 12's static
  # unwinder (libgcc_eh.a) calls _dl_find_object (GLIBC_2.35).
  foreach(_t ${_all_targets})
    get_target_property(_type ${_t} TYPE)
    get_target_property(_fully_static ${_t} NODEAGENT_FULLY_STATIC)
    if(_type STREQUAL "EXECUTABLE" AND _fully_static)
      # Static PIE (agentctl): libstdc++ is static already, and -static-libstdc++
      # would end the link in -Bdynamic.
    elseif(_type STREQUAL "EXECUTABLE")
      target_link_options(${_t} PRIVATE -static-libstdc++)
    elseif(_type STREQUAL "MODULE_LIBRARY" OR _type STREQUAL "SHARED_LIBRARY")
      target_link_options(${_t} PRIVATE -static-libstdc++ -Wl,--exclude-libs,ALL)
    else()
      continue()
    endif()
    target_sources(${_t} PRIVATE ${NODEAGENT_PACKAGING_DIR}/compat/glibc_compat.c)
  endforeach()
endif()

# --- Install layout -----------------------------------------------------------
# Paths are fixed by the packages' contract (see packaging/README.md), not by
# the install prefix: relative destinations land under
# CPACK_PACKAGING_INSTALL_PREFIX (/usr) whatever CMAKE_INSTALL_PREFIX the build
# tree was configured with, and the configuration always goes to /etc.
set(_unitdir lib/systemd/system)
set(_etcdir /etc/nodeagent)
set(_docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc/nodeagent)

if(TARGET nodeagent)
  install(TARGETS nodeagent RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
else()
  message(STATUS "packaging: no nodeagent target yet; packages will lack the daemon")
endif()
# The runner (workers, agentctl's local half) beside them in libexec: the
# daemon and agentctl find it relative to their own path (config/runner_path.h).
if(TARGET nodeagent-runner)
  install(TARGETS nodeagent-runner RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/nodeagent)
endif()
if(TARGET agentctl)
  install(TARGETS agentctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
else()
  message(STATUS "packaging: no agentctl target yet; packages will lack the CLI")
endif()
# The plugin directory exists even before any plugin is built.
install(DIRECTORY DESTINATION ${NODEAGENT_PLUGIN_INSTALL_DIR})

install(FILES ${CMAKE_SOURCE_DIR}/systemd/nodeagent.service DESTINATION ${_unitdir})
# RPM only: Debian's deb-systemd-helper ignores presets, and on merged-/usr
# Debian the directory is registered as /lib/systemd/system-preset, so a .deb
# owning /usr/lib/systemd/system-preset makes dpkg warn on purge.
install(FILES ${NODEAGENT_PACKAGING_DIR}/systemd/80-nodeagent.preset DESTINATION lib/systemd/system-preset
  COMPONENT rpm_only)
install(FILES ${NODEAGENT_PACKAGING_DIR}/sysusers/nodeagent.conf DESTINATION lib/sysusers.d)
install(FILES ${NODEAGENT_PACKAGING_DIR}/tmpfiles/nodeagent.conf DESTINATION lib/tmpfiles.d)

# Configuration: conffiles (Debian) / %config(noreplace) (RPM).
set(NODEAGENT_CONFFILES "")
if(EXISTS ${CMAKE_SOURCE_DIR}/conf/agent.toml)
  install(FILES ${CMAKE_SOURCE_DIR}/conf/agent.toml DESTINATION ${_etcdir})
  list(APPEND NODEAGENT_CONFFILES ${_etcdir}/agent.toml)
else()
  message(WARNING "packaging: conf/agent.toml missing; packages ship no default configuration")
endif()
install(DIRECTORY DESTINATION ${_etcdir}/conf.d)

# Documentation: copyright, changelog, examples.
set(_gen ${CMAKE_BINARY_DIR}/packaging)
configure_file(${NODEAGENT_PACKAGING_DIR}/changelog.in ${_gen}/changelog @ONLY)
install(FILES ${NODEAGENT_PACKAGING_DIR}/copyright DESTINATION ${_docdir})
install(FILES ${NODEAGENT_PACKAGING_DIR}/examples/extra-paths.conf DESTINATION ${_docdir}/examples/nodeagent.service.d)
foreach(_example rbac.yaml agent.toml)
  if(EXISTS ${CMAKE_SOURCE_DIR}/conf/${_example})
    install(FILES ${CMAKE_SOURCE_DIR}/conf/${_example} DESTINATION ${_docdir}/examples)
  endif()
endforeach()
install(FILES ${NODEAGENT_PACKAGING_DIR}/lintian/nodeagent DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides)

# Man pages and bash completion: generated by `agentctl gen ...` when agentctl
# builds and supports it, else the hand-written files in packaging/. Gzipped
# (-9n, reproducible) as Debian policy wants.
set(_agentctl_exe "")
set(_agentctl_dep "")
if(TARGET agentctl)
  set(_agentctl_exe $<TARGET_FILE:agentctl>)
  set(_agentctl_dep agentctl nodeagent-runner)
endif()
set(_docs_out ${_gen}/docs)
set(_docs_outputs
  ${_docs_out}/nodeagent.8.gz ${_docs_out}/agentctl.1.gz ${_docs_out}/nodeagent.toml.5.gz
  ${_docs_out}/agentctl.bash-completion)
file(GLOB _handwritten ${NODEAGENT_PACKAGING_DIR}/man/* ${NODEAGENT_PACKAGING_DIR}/completion/*)
# nodeagent.toml(5) documents the parameters of the plugins built here: it
# depends on every packaged plugin module.
add_custom_command(OUTPUT ${_docs_outputs}
  COMMAND ${CMAKE_COMMAND} -DAGENTCTL=${_agentctl_exe} -DSRC=${NODEAGENT_PACKAGING_DIR}
          -DOUT=${_docs_out} -DPLUGIN_DIR=${CMAKE_BINARY_DIR}/plugins
          -P ${NODEAGENT_PACKAGING_DIR}/gen-docs.cmake
  DEPENDS ${_handwritten} ${NODEAGENT_PACKAGING_DIR}/gen-docs.cmake ${_agentctl_dep} ${NODEAGENT_PACKAGED_PLUGINS}
  COMMENT "packaging: man pages and bash completion"
  VERBATIM)
add_custom_command(OUTPUT ${_gen}/changelog.gz
  COMMAND gzip -9n -c ${_gen}/changelog > ${_gen}/changelog.gz
  DEPENDS ${_gen}/changelog
  VERBATIM)
add_custom_target(nodeagent_package_docs ALL DEPENDS ${_docs_outputs} ${_gen}/changelog.gz)
# Everything the packages install, and nothing else: build this target, then
# run cpack. `install`/`package` do not build `all` first
# (CMAKE_SKIP_INSTALL_ALL_DEPENDENCY): on a 2-core machine building every test
# only to make a package takes far too long, and cpack would do it with
# ninja's default parallelism.
set(_package_inputs nodeagent_package_docs ${NODEAGENT_PACKAGED_PLUGINS})
foreach(_t nodeagent nodeagent-runner agentctl)
  if(TARGET ${_t})
    list(APPEND _package_inputs ${_t})
  endif()
endforeach()
add_custom_target(nodeagent_package_inputs DEPENDS ${_package_inputs})
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)
install(FILES ${_docs_out}/nodeagent.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${_docs_out}/agentctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${_docs_out}/nodeagent.toml.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${_docs_out}/agentctl.bash-completion DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions
  RENAME agentctl)
install(FILES ${_gen}/changelog.gz DESTINATION ${_docdir})

# --- CPack --------------------------------------------------------------------
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_PACKAGE_NAME nodeagent)
set(CPACK_PACKAGE_VERSION ${NODEAGENT_PACKAGE_VERSION})
set(CPACK_PACKAGE_VENDOR "nodeagent developers")
set(CPACK_PACKAGE_CONTACT "nodeagent developers <nodeagent@example.org>")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://example.org/nodeagent")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kubernetes node maintenance agent")
set(CPACK_PACKAGE_DESCRIPTION
"nodeagent is a daemon that runs maintenance actions on Kubernetes nodes:
node preparation before joining a cluster, log cleanup, network setup and
coordinated drain-and-reboot. Actions come from plugins, run on a schedule
or on request through the agentctl command-line tool, and always show a
plan before they change anything.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/\\\\.git/")

# Debian
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser/passwd: group creation fallback; init-system-helpers: deb-systemd-*.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "init-system-helpers (>= 1.54~), passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(_debctl ${_gen}/deb)
file(MAKE_DIRECTORY ${_debctl})
list(JOIN NODEAGENT_CONFFILES "\n" _conffiles_text)
if(_conffiles_text)
  file(WRITE ${_debctl}/conffiles "${_conffiles_text}\n")
  set(_conffiles_ctl ${_debctl}/conffiles)
else()
  file(REMOVE ${_debctl}/conffiles)
  set(_conffiles_ctl "")
endif()
foreach(_script postinst prerm postrm)
  configure_file(${NODEAGENT_PACKAGING_DIR}/deb/${_script} ${_debctl}/${_script} COPYONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${_conffiles_ctl} ${_debctl}/postinst ${_debctl}/prerm ${_debctl}/postrm)

# RPM
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_LICENSE "LicenseRef-nodeagent-unreleased")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_URL ${CPACK_PACKAGE_HOMEPAGE_URL})
set(CPACK_RPM_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_REQUIRES "systemd")
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
set(CPACK_RPM_PACKAGE_REQUIRES_POST "systemd")
set(CPACK_RPM_PACKAGE_REQUIRES_PREUN "systemd")
set(CPACK_RPM_PACKAGE_REQUIRES_POSTUN "systemd")
set(CPACK_RPM_DEBUGINFO_PACKAGE OFF)
# Not relocatable: the unit, tmpfiles and sysusers snippets name fixed paths.
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none\n%define packager ${CPACK_PACKAGE_CONTACT}")
set(CPACK_RPM_CHANGELOG_FILE ${NODEAGENT_PACKAGING_DIR}/rpm/changelog)
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${NODEAGENT_PACKAGING_DIR}/rpm/pre.sh)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${NODEAGENT_PACKAGING_DIR}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${NODEAGENT_PACKAGING_DIR}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${NODEAGENT_PACKAGING_DIR}/rpm/postun.sh)
set(_rpm_files "%dir ${_etcdir}" "%dir ${_etcdir}/conf.d")
foreach(_f ${NODEAGENT_CONFFILES})
  list(APPEND _rpm_files "%config(noreplace) ${_f}")
endforeach()
set(CPACK_RPM_USER_FILELIST ${_rpm_files})
# Directories other packages (filesystem, systemd, bash-completion) own.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
  /etc /usr/sbin /usr/libexec /usr/lib/systemd /usr/lib/systemd/system /usr/lib/systemd/system-preset
  /usr/lib/sysusers.d /usr/lib/tmpfiles.d /usr/share/bash-completion
  /usr/share/bash-completion/completions /usr/share/man /usr/share/man/man1 /usr/share/man/man5
  /usr/share/man/man8 /usr/share/lintian /usr/share/lintian/overrides)

# Per-generator install sets: the .deb leaves out the rpm_only component.
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};nodeagent;ALL;/")
configure_file(${NODEAGENT_PACKAGING_DIR}/cpack-project-config.cmake.in ${_gen}/cpack-project-config.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${_gen}/cpack-project-config.cmake)

include(CPack)
