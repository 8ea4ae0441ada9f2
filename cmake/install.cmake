# cmake/install.cmake - what `cmake --install` puts where, for C users:
#
#   include/: every header of include/ (rmem.h, rmem_os.h) and rmem_malloc.h
#   lib/librmem.so*, lib/librmem.a, lib/librmem-malloc.so
#   lib/cmake/rmem/rmemConfig.cmake (+ Version, Targets): find_package(rmem)
#     with the targets rmem::rmem (shared), rmem::rmem_static, rmem::malloc
#   lib/pkgconfig/rmem.pc, rmem-malloc.pc: pkg-config rmem / rmem-malloc
#
# Included at the end of the top-level CMakeLists.txt, after every target
# exists. The .pc files find their prefix from their own place (${pcfiledir}),
# so `cmake --install build/release --prefix DIR` works for any DIR.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RMEM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/rmem)

set_target_properties(rmem_shared PROPERTIES EXPORT_NAME rmem)
set_target_properties(rmem_static PROPERTIES EXPORT_NAME rmem_static)
set(RMEM_EXPORTED rmem_static rmem_shared)
if(TARGET rmem_malloc)
  set_target_properties(rmem_malloc PROPERTIES EXPORT_NAME malloc)
  add_library(rmem::malloc ALIAS rmem_malloc)
  list(APPEND RMEM_EXPORTED rmem_malloc)
endif()
find_package(Threads REQUIRED)
target_link_libraries(rmem_static INTERFACE Threads::Threads) # rmem's locks (pthread_mutex_*)
target_link_libraries(rmem_shared PRIVATE Threads::Threads)
foreach(t ${RMEM_EXPORTED})
  target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${t} INTERFACE c_std_11)
endforeach()

install(TARGETS ${RMEM_EXPORTED} EXPORT rmemTargets)
# Every public header: rmem.h, rmem_os.h, rmem_malloc.h.
file(GLOB RMEM_PUBLIC_HEADERS ${CMAKE_CURRENT_SOURCE_DIR}/include/*.h)
install(FILES ${RMEM_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT rmemTargets NAMESPACE rmem:: DESTINATION ${RMEM_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/rmemConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/rmemConfig.cmake INSTALL_DESTINATION ${RMEM_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/rmemConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/rmemConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/rmemConfigVersion.cmake
  DESTINATION ${RMEM_CMAKE_DIR})

# pkg-config: paths relative to the .pc file's folder, unless the install dirs are absolute.
set(RMEM_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE ${RMEM_PC_DIR})
  set(RMEM_PC_TO_PREFIX ".")
else()
  file(RELATIVE_PATH RMEM_PC_TO_PREFIX /rmem-prefix/${RMEM_PC_DIR} /rmem-prefix)
  string(REGEX REPLACE "/$" "" RMEM_PC_TO_PREFIX "${RMEM_PC_TO_PREFIX}")
endif()
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_${d}})
    set(RMEM_PC_${d} ${CMAKE_INSTALL_${d}})
  else()
    set(RMEM_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/rmem.pc.in ${CMAKE_CURRENT_BINARY_DIR}/rmem.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/rmem.pc DESTINATION ${RMEM_PC_DIR})
if(TARGET rmem_malloc)
  configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/rmem-malloc.pc.in ${CMAKE_CURRENT_BINARY_DIR}/rmem-malloc.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/rmem-malloc.pc DESTINATION ${RMEM_PC_DIR})
endif()
