# A quoted include is looked up beside the including file before the include
# path, so `#include "../fleet/config.h"` would get past the layer views
# (cmake/KeyrotorLayers.cmake). Project headers are included as "layer/file.h";
# this refuses any quoted include under src/ that climbs out of its directory
# or names an absolute path.
#
#   cmake -DSOURCE_DIR=src -P check_relative_includes.cmake
cmake_minimum_required(VERSION 3.22)
file(GLOB_RECURSE files ${SOURCE_DIR}/*.h ${SOURCE_DIR}/*.cc)
set(failures "")
foreach(file IN LISTS files)
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"(\\.\\./|/|\\./)")
  foreach(line IN LISTS lines)
    file(RELATIVE_PATH name ${SOURCE_DIR} ${file})
    list(APPEND failures "src/${name}: ${line}")
  endforeach()
endforeach()
if(failures)
  string(JOIN "\n" text ${failures})
  message(FATAL_ERROR "includes that bypass the layer views (write \"layer/file.h\"):\n${text}")
endif()
list(LENGTH files count)
message(STATUS "${count} files under src/, no include climbs out of its directory")
