# The public ABI (tests/abi/): a program built against the installed library
# through pkg-config, the exported symbols against src/libnvmf.map and the
# headers, and the ABI against the checked-in baseline abi/libnvmf.abi.
if(NVMF_SANITIZE)
  set(NVMF_ABI_CFLAGS "-fsanitize=address,undefined")
elseif(NVMF_TSAN)
  set(NVMF_ABI_CFLAGS "-fsanitize=thread")
else()
  set(NVMF_ABI_CFLAGS "")
endif()
add_test(NAME abi_consumer
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/abi/consumer.sh ${PROJECT_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR} "${NVMF_ABI_CFLAGS}")
set_tests_properties(abi_consumer PROPERTIES TIMEOUT 120 LABELS abi)

add_test(NAME abi_baseline
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/abi/abidiff.sh $<TARGET_FILE:nvmf>
                 ${PROJECT_SOURCE_DIR} ${CMAKE_BUILD_TYPE})
# Exit code 77: abidiff missing or no debug information (see the script).
set_tests_properties(abi_baseline PROPERTIES TIMEOUT 120 LABELS abi SKIP_RETURN_CODE 77)
