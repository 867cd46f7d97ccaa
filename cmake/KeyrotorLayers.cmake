# One static library per layer (src/LAYER), built so that a layer can only
# include the headers of the layers it depends on: docs/architecture.md draws
# the arrows, keyrotor_layer() below is where the build enforces them.
#
# Every layer L gets a header view, ${KEYROTOR_LAYER_VIEWS}/L/, that holds one
# entry, `L`, a symbolic link to src/L. A layer's sources are compiled with the
# views of L and of the layers L reaches through its arrows on the include
# path, and nothing else: src/ itself is not on it. So `#include "fleet/config.h"`
# in src/engine is "No such file or directory", whether or not the engine would
# call anything in fleet. (A quoted include is also looked up beside the file
# that includes it, which is how "../fleet/config.h" would get past the views:
# tests/layers/check_relative_includes.cmake refuses those.) The dependencies
# are PRIVATE link dependencies: a static library's are carried to the final
# link, but never onto its users' include path.
#
# Layers are declared bottom-up, and a layer may only depend on a layer
# declared before it, so the graph cannot have a cycle.

set(KEYROTOR_LAYER_VIEWS ${CMAKE_BINARY_DIR}/layers)
set(KEYROTOR_LAYERS "")

# keyrotor_layer(NAME [DEPENDS layer...] [LIBRARIES lib...] [PUBLIC_LIBRARIES lib...])
#   DEPENDS           the layers NAME's code includes (the arrows)
#   LIBRARIES         third-party libraries only NAME's .cc files use
#   PUBLIC_LIBRARIES  third-party libraries NAME's headers include
function(keyrotor_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "DEPENDS;LIBRARIES;PUBLIC_LIBRARIES")
  if(NOT IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${name})
    message(FATAL_ERROR "keyrotor_layer(${name}): there is no src/${name}")
  endif()
  set(reach "")
  foreach(dep IN LISTS arg_DEPENDS)
    if(NOT TARGET keyrotor_${dep})
      message(FATAL_ERROR "layer ${name} depends on ${dep}, which is not declared before it")
    endif()
    get_property(dep_reach GLOBAL PROPERTY KEYROTOR_LAYER_REACH_${dep})
    list(APPEND reach ${dep} ${dep_reach})
  endforeach()
  list(REMOVE_DUPLICATES reach)
  list(SORT reach)
  set_property(GLOBAL PROPERTY KEYROTOR_LAYER_REACH_${name} ${reach})
  set_property(GLOBAL PROPERTY KEYROTOR_LAYER_DEPENDS_${name} ${arg_DEPENDS})

  file(MAKE_DIRECTORY ${KEYROTOR_LAYER_VIEWS}/${name})
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${name} ${KEYROTOR_LAYER_VIEWS}/${name}/${name} SYMBOLIC)

  # Per directory, so files added to a layer are picked up by the next build.
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cc)
  list(FILTER sources EXCLUDE REGEX "_test\\.cc$")
  list(FILTER sources EXCLUDE REGEX "/src/cli/main\\.cc$")
  add_library(keyrotor_${name} STATIC ${sources})
  keyrotor_use_layer_view(keyrotor_${name} ${name})
  foreach(dep IN LISTS arg_DEPENDS)
    target_link_libraries(keyrotor_${name} PRIVATE keyrotor_${dep})
  endforeach()
  target_link_libraries(keyrotor_${name} PRIVATE ${arg_LIBRARIES} PUBLIC ${arg_PUBLIC_LIBRARIES})

  set(KEYROTOR_LAYERS ${KEYROTOR_LAYERS} ${name} PARENT_SCOPE)
  set(KEYROTOR_THIRD_PARTY_LIBRARIES ${KEYROTOR_THIRD_PARTY_LIBRARIES} ${arg_LIBRARIES} ${arg_PUBLIC_LIBRARIES}
      PARENT_SCOPE)
endfunction()

# Compiles `target` as code of `layer`: the include path holds the views of
# the layer and of everything it reaches, no more.
function(keyrotor_use_layer_view target layer)
  get_property(reach GLOBAL PROPERTY KEYROTOR_LAYER_REACH_${layer})
  foreach(visible IN LISTS reach ITEMS ${layer})
    target_include_directories(${target} PRIVATE ${KEYROTOR_LAYER_VIEWS}/${visible})
  endforeach()
endfunction()

# Refuses a directory under src/ that is not a declared layer: its sources
# would otherwise be built by nobody (or, worse, by the tests only).
function(keyrotor_check_every_directory_is_a_layer)
  file(GLOB entries RELATIVE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/*)
  foreach(entry IN LISTS entries)
    if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${entry} AND NOT entry IN_LIST KEYROTOR_LAYERS)
      message(FATAL_ERROR "src/${entry} is not a layer: declare it with keyrotor_layer() in CMakeLists.txt "
                          "and give it its arrows in docs/architecture.md")
    endif()
  endforeach()
endfunction()

# Refuses a layer other than `allowed` that reaches `layer`: the sandbox is
# for the binary's `keyrotor sandbox`/`demo` and for the tests, and must never
# end up in what the engine links.
function(keyrotor_check_only_reached_by layer allowed)
  foreach(other IN LISTS KEYROTOR_LAYERS)
    get_property(reach GLOBAL PROPERTY KEYROTOR_LAYER_REACH_${other})
    if(layer IN_LIST reach AND NOT other STREQUAL allowed)
      message(FATAL_ERROR "layer ${other} reaches ${layer}; only ${allowed} may")
    endif()
  endforeach()
endfunction()
