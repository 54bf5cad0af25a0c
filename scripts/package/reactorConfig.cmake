# reactorConfig.cmake -- the CMake package file of reactor, installed by
# `make install` as <prefix>/lib/cmake/reactor/reactorConfig.cmake.
#
#     find_package(reactor REQUIRED)
#     target_link_libraries(app PRIVATE reactor::reactor)         # libreactor.so
#     target_link_libraries(app PRIVATE reactor::reactor_static)  # libreactor.a
#
# Both imported targets carry the include directory, the C++20 requirement
# (compile feature cxx_std_20) and Threads::Threads. Every path is computed
# from this file's own location, so an installed tree keeps working after it
# is moved or staged with DESTDIR. A program linked with reactor::reactor
# finds libreactor.so.0 at run time like any shared library: from the
# system's library path, LD_LIBRARY_PATH, or the rpath CMake gives build-tree
# binaries.

if(CMAKE_VERSION VERSION_LESS 3.12)
    set(reactor_FOUND FALSE)
    set(reactor_NOT_FOUND_MESSAGE "reactor needs CMake 3.12 or later (for cxx_std_20)")
    return()
endif()

include(CMakeFindDependencyMacro)
find_dependency(Threads)

# <prefix>/lib/cmake/reactor/ -> <prefix>
get_filename_component(_reactor_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

# The shared library: libreactor.so (soname libreactor.so.0), or on macOS
# libreactor.dylib (install name <prefix>/lib/libreactor.0.dylib).
if(APPLE)
    set(_reactor_shared lib/libreactor.dylib)
    set(_reactor_soname "${_reactor_prefix}/lib/libreactor.0.dylib")
else()
    set(_reactor_shared lib/libreactor.so)
    set(_reactor_soname libreactor.so.0)
endif()

# A half-removed installation is reported here, not as a puzzling link error.
foreach(_reactor_file include/reactor/reactor.hpp ${_reactor_shared} lib/libreactor.a)
    if(NOT EXISTS "${_reactor_prefix}/${_reactor_file}")
        set(reactor_FOUND FALSE)
        set(reactor_NOT_FOUND_MESSAGE
            "${_reactor_prefix}/${_reactor_file} is missing: reinstall reactor (make install)")
        unset(_reactor_file)
        unset(_reactor_prefix)
        unset(_reactor_shared)
        unset(_reactor_soname)
        return()
    endif()
endforeach()
unset(_reactor_file)

# A second find_package(reactor) in the same project must not redefine them.
if(NOT TARGET reactor::reactor)
    add_library(reactor::reactor SHARED IMPORTED)
    set_target_properties(reactor::reactor PROPERTIES
        IMPORTED_LOCATION "${_reactor_prefix}/${_reactor_shared}"
        IMPORTED_SONAME "${_reactor_soname}"
        INTERFACE_INCLUDE_DIRECTORIES "${_reactor_prefix}/include"
        INTERFACE_COMPILE_FEATURES cxx_std_20
        INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()

if(NOT TARGET reactor::reactor_static)
    add_library(reactor::reactor_static STATIC IMPORTED)
    set_target_properties(reactor::reactor_static PROPERTIES
        IMPORTED_LOCATION "${_reactor_prefix}/lib/libreactor.a"
        IMPORTED_LINK_INTERFACE_LANGUAGES CXX
        INTERFACE_INCLUDE_DIRECTORIES "${_reactor_prefix}/include"
        INTERFACE_COMPILE_FEATURES cxx_std_20
        INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()

unset(_reactor_prefix)
unset(_reactor_shared)
unset(_reactor_soname)
