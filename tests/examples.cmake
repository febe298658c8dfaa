# The example programs under examples/ still do what the README says.
add_test(NAME example_hello
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/examples/hello.sh $<TARGET_FILE:nvmfd>
                 $<TARGET_FILE:hello_nvmf>)
set_tests_properties(example_hello PROPERTIES TIMEOUT 60 LABELS examples)
