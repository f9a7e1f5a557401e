# The installed package: headers, libbdevkit.a and libbdevkit.so (versioned soname),
# the tools, a CMake package (find_package(bdevkit) -> bdevkit::bdevkit) and
# bdevkit.pc. Included by the top-level CMakeLists.txt once every target exists.
#
# Targets as consumers see them:
#   bdevkit::bdevkit         the shared library. Use it by default: a program and the
#                            module plugins it loads (bdevd --load-module) must share
#                            one copy of the library, which only the shared one gives.
#   bdevkit::bdevkit_static  the static library, for a self-contained binary.
# Both carry the sanitizer flags the library was built with (BDEVKIT_SANITIZE): an
# ASan-instrumented library only links and runs in an ASan-instrumented program, so
# the package makes its consumers match instead of letting them fail at run time.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BDEVKIT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/bdevkit)

set(BDEVKIT_USAGE_FLAGS "")
if(BDEVKIT_SANITIZE STREQUAL "address")
  set(BDEVKIT_USAGE_FLAGS -fsanitize=address,undefined)
elseif(BDEVKIT_SANITIZE STREQUAL "thread")
  set(BDEVKIT_USAGE_FLAGS -fsanitize=thread)
endif()

foreach(t bdevkit bdevkit_shared)
  target_include_directories(${t} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # The public headers use C++20 (designated initializers, <coroutine>).
  target_compile_features(${t} INTERFACE cxx_std_20)
  if(BDEVKIT_USAGE_FLAGS)
    target_compile_options(${t} INTERFACE $<INSTALL_INTERFACE:${BDEVKIT_USAGE_FLAGS}>)
    target_link_options(${t} INTERFACE $<INSTALL_INTERFACE:${BDEVKIT_USAGE_FLAGS}>)
  endif()
endforeach()
set_target_properties(bdevkit PROPERTIES EXPORT_NAME bdevkit_static)
set_target_properties(bdevkit_shared PROPERTIES EXPORT_NAME bdevkit)
# In-tree users (examples/) name the targets as installed consumers do.
add_library(bdevkit::bdevkit ALIAS bdevkit_shared)
add_library(bdevkit::bdevkit_static ALIAS bdevkit)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/bdevkit
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(TARGETS bdevkit bdevkit_shared EXPORT bdevkitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# bdevd links the shared library (module plugins); found next to it after install.
set_target_properties(bdevd PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
install(TARGETS bdevd bdevctl bdevperf RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(EXPORT bdevkitTargets NAMESPACE bdevkit:: DESTINATION ${BDEVKIT_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/bdevkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/bdevkitConfig.cmake INSTALL_DESTINATION ${BDEVKIT_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API, so only the same minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/bdevkitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/bdevkitConfig.cmake
              ${PROJECT_BINARY_DIR}/bdevkitConfigVersion.cmake
        DESTINATION ${BDEVKIT_INSTALL_CMAKEDIR})

# bdevkit.pc finds its prefix relative to itself, so `cmake --install --prefix X`
# (which picks the prefix after configuration) gives a correct file.
file(RELATIVE_PATH BDEVKIT_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
string(REPLACE ";" " " BDEVKIT_PC_FLAGS "${BDEVKIT_USAGE_FLAGS}")
set(BDEVKIT_PC_RBD_LIBS "")
if(BDEVKIT_HAVE_RBD)
  set(BDEVKIT_PC_RBD_LIBS "-lrbd -lrados")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/bdevkit.pc.in ${PROJECT_BINARY_DIR}/bdevkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/bdevkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
