# Debian packages of arxe's install components, made by CPack's DEB
# generator from what cmake --install puts in place (included by the top
# CMakeLists.txt; cmake --build build --target packages):
#   arxe-dkms   (component dkms)      arxe.ko's DKMS source tree
#   libarxe1    (component provider)  the libibverbs provider
#   libarxe-dev (component dev)       arxedv.h, libarxe.so, arxe.pc
# libarxe1's Depends come from dpkg-shlibdeps in the target root (tools/build
# stages them beside the libraries; packaging/CPackDepends.cmake reads them
# when cpack runs). The maintainer scripts and control files are in
# packaging/PACKAGE/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME arxe)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT
  "arxe maintainers <maintainers@users.noreply.r-seed-24b9a798.example>")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL dkms provider dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_SOURCE_DIR}/packaging/CPackDepends.cmake)
set(CPACK_ARXE_PROVIDER_DEPENDS_FILE ${ARXE_STAGE}/provider.depends)

set(pkg ${CMAKE_BINARY_DIR}/packaging)
foreach(script postinst prerm)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/arxe-dkms/${script}.in
    ${pkg}/arxe-dkms/${script} @ONLY
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                     GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()

set(CPACK_DEBIAN_DKMS_PACKAGE_NAME arxe-dkms)
set(CPACK_DEBIAN_DKMS_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DKMS_PACKAGE_SECTION kernel)
set(CPACK_DEBIAN_DKMS_PACKAGE_DEPENDS "dkms (>= 3), linux-source, xz-utils")
set(CPACK_DEBIAN_DKMS_PACKAGE_CONTROL_EXTRA
  ${pkg}/arxe-dkms/postinst ${pkg}/arxe-dkms/prerm)
set(CPACK_DEBIAN_DKMS_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_DKMS_DESCRIPTION
"soft-RoCE RDMA driver with huge-page aligned MRs (DKMS source)
arxe is the kernel's soft-RoCE driver, rxe, changed to register memory
regions through the two-step DMA API at IOVA ranges aligned to huge pages,
so that one contiguous translation replaces a table of pages per region.
.
This package builds arxe.ko with DKMS for every installed kernel that has
its headers, from the rxe sources of that kernel's linux-source package and
arxe's patches. It needs a kernel with the two-step DMA API
(dma_iova_try_alloc).")

set(CPACK_DEBIAN_PROVIDER_PACKAGE_NAME libarxe1)
set(CPACK_DEBIAN_PROVIDER_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PROVIDER_PACKAGE_RECOMMENDS "arxe-dkms")
set(CPACK_DEBIAN_PROVIDER_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/libarxe1/conffiles
  ${CMAKE_SOURCE_DIR}/packaging/libarxe1/shlibs
  ${CMAKE_SOURCE_DIR}/packaging/libarxe1/symbols
  ${CMAKE_SOURCE_DIR}/packaging/libarxe1/triggers)
set(CPACK_COMPONENT_PROVIDER_DESCRIPTION
"libibverbs provider for arxe soft-RoCE devices
arxe is the kernel's soft-RoCE driver, rxe, changed to register memory
regions at IOVA ranges aligned to huge pages.
.
This package is the userspace provider libibverbs loads for arxe devices
(libarxe-rdmav*.so), with arxe's direct verbs in libarxe.so.1.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libarxe-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libarxe1 (= ${PROJECT_VERSION}), libibverbs-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"development files of arxe's direct verbs
arxe is the kernel's soft-RoCE driver, rxe, changed to register memory
regions at IOVA ranges aligned to huge pages.
.
This package has infiniband/arxedv.h, libarxe.so and the pkg-config file
arxe.pc, for programs that ask arxe how it translates an MR
(arxedv_query_mr).")

# cpack installs without building "all" first: the target packages is part
# of it, and runs after what the packages take (its dependencies).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
include(CPack)
add_custom_target(packages ${ARXE_ALL}
  COMMAND cpack --config ${CMAKE_BINARY_DIR}/CPackConfig.cmake
  COMMENT "Debian packages in build/packages"
  USES_TERMINAL)
add_dependencies(packages arxe man-pages package-docs)
