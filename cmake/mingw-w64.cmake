# Cross-build rmem for 64-bit Windows with mingw-w64 (Debian: gcc-mingw-w64-x86-64):
#   cmake -S . -B build/win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
# When wine is installed, ctest runs the cross-built tests under it
# (CMAKE_CROSSCOMPILING_EMULATOR); scripts/test-windows.sh sets up a private
# WINEPREFIX for that. -DRMEM_WINE=/path/to/wine picks another wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(RMEM_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${RMEM_MINGW_TRIPLE}-gcc)
set(CMAKE_RC_COMPILER ${RMEM_MINGW_TRIPLE}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${RMEM_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Debian's wine64 package installs /usr/lib/wine/wine64 (the wine package adds /usr/bin/wine).
if(NOT RMEM_WINE)
  find_program(RMEM_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
endif()
if(RMEM_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RMEM_WINE})
endif()
