# The man pages (man/) parse cleanly; `make docs` renders them to text.
file(GLOB NVMF_MAN_PAGES ${PROJECT_SOURCE_DIR}/man/*.[0-9])
add_test(NAME docs_man COMMAND ${PROJECT_SOURCE_DIR}/man/check.sh ${NVMF_MAN_PAGES})
set_tests_properties(docs_man PROPERTIES TIMEOUT 60 LABELS docs SKIP_RETURN_CODE 77)
