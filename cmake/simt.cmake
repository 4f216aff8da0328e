# simt.cmake: the SIMT runtime, which runs kernels/cuda/*.cu on the CPU
# (docs/SIMT.md), its tests (tests/simt, ctest label `simt`), and the
# sanitizer switch used by its TSan and ASan builds
# (scripts/test_simt_sanitizers.sh).
#
#   GESSO_WITH_SIMT   build gesso_simt_runtime, gesso_simt_kernels and the tests (default ON)
#   GESSO_SANITIZE    "" (default), thread, address, undefined or address,undefined:
#                     -fsanitize=... for every C++ target of the build

option(GESSO_WITH_SIMT "Build the SIMT runtime that runs kernels/cuda/*.cu on the CPU" ON)
set(GESSO_SANITIZE "" CACHE STRING "Sanitizers for every C++ target: thread, address, undefined, address,undefined")

# ---- sanitizers: through CMAKE_CXX_FLAGS and the linker flags, so that they
# reach every C++ target, including those defined before this file is read.
set(GESSO_SANITIZE_LIST "")
if(GESSO_SANITIZE)
  string(REPLACE "," ";" GESSO_SANITIZE_LIST "${GESSO_SANITIZE}")
  foreach(s ${GESSO_SANITIZE_LIST})
    if(NOT s MATCHES "^(thread|address|undefined)$")
      message(FATAL_ERROR "GESSO_SANITIZE: expected thread, address or undefined (comma-separated), got '${s}'")
    endif()
  endforeach()
  if("thread" IN_LIST GESSO_SANITIZE_LIST AND "address" IN_LIST GESSO_SANITIZE_LIST)
    message(FATAL_ERROR "GESSO_SANITIZE: thread and address cannot be combined; use two build directories")
  endif()
  string(REPLACE ";" "," _gesso_sanitizers "${GESSO_SANITIZE_LIST}")
  set(_gesso_sanitize_flags "-fsanitize=${_gesso_sanitizers} -fno-omit-frame-pointer")
  if("undefined" IN_LIST GESSO_SANITIZE_LIST)
    # Undefined behaviour stops the program: a report cannot scroll by unnoticed.
    string(APPEND _gesso_sanitize_flags " -fno-sanitize-recover=undefined")
  endif()
  string(APPEND CMAKE_CXX_FLAGS " ${_gesso_sanitize_flags}")
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -fsanitize=${_gesso_sanitizers}")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS " -fsanitize=${_gesso_sanitizers}")
  message(STATUS "gesso: sanitizers ${_gesso_sanitizers} on every C++ target")
endif()

if(NOT GESSO_WITH_SIMT)
  message(STATUS "gesso: SIMT runtime OFF")
  return()
endif()

# Compiles a target's .cu files as C++ for the SIMT runtime: g++ -x c++ with
# the CUDA vocabulary (kernels/simt/simt.h) included first, as nvcc includes
# cuda_runtime.h. __FILE__ is made relative to the source tree so that the
# runtime's errors name lines as `kernels/cuda/gram.cu:42`.
function(gesso_simt_compile_cuda_as_cxx target)
  # Ninja passes sources relative to the build directory ("../kernels/..."),
  # Makefiles pass them absolute: both prefixes are mapped away.
  file(RELATIVE_PATH source_from_build ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  string(REGEX REPLACE "/$" "" source_from_build "${source_from_build}")
  get_target_property(sources ${target} SOURCES)
  foreach(src ${sources})
    if(src MATCHES "\\.cu$")
      set_source_files_properties(${src} PROPERTIES LANGUAGE CXX)
    endif()
  endforeach()
  target_compile_options(${target} PRIVATE ${GESSO_CXX_FLAGS} -x c++
                         -include ${CMAKE_SOURCE_DIR}/kernels/simt/simt.h
                         -fmacro-prefix-map=${CMAKE_SOURCE_DIR}/=
                         -fmacro-prefix-map=${source_from_build}/=)
  target_compile_definitions(${target} PRIVATE GESSO_SIMT_COMPILE=1)
endfunction()

# ---- the runtime: fibers, scheduler, context switch
find_package(Threads REQUIRED)
file(GLOB GESSO_SIMT_RUNTIME_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/kernels/simt/*.cpp
  ${CMAKE_SOURCE_DIR}/kernels/simt/*.S)
if(GESSO_SIMT_RUNTIME_SOURCES MATCHES "\\.S(;|$)")
  enable_language(ASM)
endif()
add_library(gesso_simt_runtime STATIC ${GESSO_SIMT_RUNTIME_SOURCES})
target_include_directories(gesso_simt_runtime PUBLIC ${CMAKE_SOURCE_DIR})
target_compile_options(gesso_simt_runtime PRIVATE ${GESSO_CXX_FLAGS})
target_link_libraries(gesso_simt_runtime PUBLIC Threads::Threads)
if("thread" IN_LIST GESSO_SANITIZE_LIST)
  # The scheduler's bookkeeping is shared by the fibers of a block on purpose
  # and ordered by the scheduler, which TSan cannot see; the runtime tells
  # TSan the GPU's happens-before edges itself (runtime.cpp).
  target_compile_options(gesso_simt_runtime PRIVATE -fno-sanitize=thread)
endif()

# ---- kernels/cuda/*.cu compiled as C++ (runtime.cu is host plumbing that
# calls the CUDA runtime, not kernels). Empty today: an interface library then.
file(GLOB GESSO_SIMT_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/cuda/*.cu)
list(REMOVE_ITEM GESSO_SIMT_KERNEL_SOURCES ${CMAKE_SOURCE_DIR}/kernels/cuda/runtime.cu)
if(GESSO_SIMT_KERNEL_SOURCES)
  add_library(gesso_simt_kernels STATIC ${GESSO_SIMT_KERNEL_SOURCES})
  gesso_simt_compile_cuda_as_cxx(gesso_simt_kernels)
  target_link_libraries(gesso_simt_kernels PUBLIC gesso_simt_runtime)
else()
  add_library(gesso_simt_kernels INTERFACE)
  target_link_libraries(gesso_simt_kernels INTERFACE gesso_simt_runtime)
endif()

target_compile_definitions(gesso PUBLIC GESSO_HAVE_SIMT=1)
message(STATUS "gesso: SIMT runtime ON (${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION})")

# ---- acceptance tests (label simt)
enable_testing()
add_subdirectory(${CMAKE_SOURCE_DIR}/tests/simt ${CMAKE_BINARY_DIR}/tests/simt)
