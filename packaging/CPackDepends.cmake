# Read by cpack (CPACK_PROJECT_CONFIG_FILE): libarxe1's Depends, as
# dpkg-shlibdeps found them in the target root when tools/build staged the
# provider.
if(NOT EXISTS "${CPACK_ARXE_PROVIDER_DEPENDS_FILE}")
  message(FATAL_ERROR "${CPACK_ARXE_PROVIDER_DEPENDS_FILE} is missing: build the target arxe first")
endif()
file(STRINGS "${CPACK_ARXE_PROVIDER_DEPENDS_FILE}" CPACK_DEBIAN_PROVIDER_PACKAGE_DEPENDS LIMIT_COUNT 1)
