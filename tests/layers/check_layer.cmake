# Proves that the build enforces a layer's arrows (docs/architecture.md), with
# the compiler and the include path the build gives the layer's library:
#  - every header of every layer LAYER reaches (itself included) preprocesses,
#    so the arrows are enough to use what they point at;
#  - a header of each layer LAYER does not reach is "not found", so an include
#    against the arrows fails to build even when nothing is called or linked.
#
#   cmake -DCXX=c++ -DLAYER=engine -DINCLUDE_DIRS="dir|dir" -DREACH="aws|base"
#         -DLAYERS="base|aws|..." -DSOURCE_DIR=src -DWORK_DIR=dir -P check_layer.cmake
cmake_minimum_required(VERSION 3.22)
foreach(var CXX LAYER INCLUDE_DIRS LAYERS SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_layer.cmake: -D${var}= is missing")
  endif()
endforeach()
string(REPLACE "|" ";" include_dirs "${INCLUDE_DIRS}")
string(REPLACE "|" ";" reach "${REACH}")
string(REPLACE "|" ";" layers "${LAYERS}")
list(APPEND reach ${LAYER})
set(flags -std=c++20 -E -o /dev/null)
foreach(dir IN LISTS include_dirs)
  list(APPEND flags -I${dir})
endforeach()
file(MAKE_DIRECTORY ${WORK_DIR})

function(preprocess probe text out_result out_output)
  file(WRITE ${WORK_DIR}/${probe} "${text}")
  execute_process(COMMAND ${CXX} ${flags} ${WORK_DIR}/${probe}
                  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  set(${out_result} ${result} PARENT_SCOPE)
  set(${out_output} "${output}" PARENT_SCOPE)
endfunction()

set(failures "")
set(allowed_text "")
set(refused 0)
foreach(other IN LISTS layers)
  file(GLOB headers RELATIVE ${SOURCE_DIR} ${SOURCE_DIR}/${other}/*.h)
  list(SORT headers)
  if(headers STREQUAL "")
    continue()
  endif()
  if(other IN_LIST reach)
    foreach(header IN LISTS headers)
      string(APPEND allowed_text "#include \"${header}\"\n")
    endforeach()
  else()
    list(GET headers 0 header)
    preprocess(${LAYER}_includes_${other}.cc "#include \"${header}\"\n" result output)
    if(result EQUAL 0)
      list(APPEND failures "${LAYER} can include ${header}, but ${LAYER} has no arrow to ${other}")
    elseif(NOT output MATCHES "${header}: No such file or directory|'${header}' file not found")
      list(APPEND failures "${LAYER} including ${header} failed, but not because the header is out of reach:\n${output}")
    else()
      math(EXPR refused "${refused} + 1")
    endif()
  endif()
endforeach()

preprocess(${LAYER}_includes_its_reach.cc "${allowed_text}" result output)
if(NOT result EQUAL 0)
  list(APPEND failures "${LAYER} cannot include the headers of the layers it reaches:\n${output}")
endif()

if(failures)
  string(JOIN "\n" text ${failures})
  message(FATAL_ERROR "${text}")
endif()
list(LENGTH reach reached)
message(STATUS "${LAYER}: the headers of ${reached} layers (${REACH} and itself) are visible; "
               "${refused} other layers' are not found")
