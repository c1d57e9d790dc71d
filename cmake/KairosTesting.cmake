# Test helpers shared by every folder.
#   kairos_unit_test(NAME <name> SOURCES ... [LIBS ...] [LABELS ...])
#     a GoogleTest binary run on the build machine (label 'unit').
#   kairos_vm_test(NAME <name> SOURCES ... [LIBS ...] [TIMEOUT s])
#     a GoogleTest binary run inside the sched_ext kernel (label 'vm');
#     every vm test of one ctest run shares one VM boot (see tests/vm/).
enable_testing()
find_package(GTest REQUIRED)
find_package(benchmark QUIET)

set(KAIROS_VM_RESULTS_DIR ${CMAKE_BINARY_DIR}/vm-results)

function(kairos_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE GTest::gtest GTest::gtest_main
                        Threads::Threads ${T_LIBS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "unit;${T_LABELS}"
                       TIMEOUT ${T_TIMEOUT})
  # tests/sanitize builds and runs exactly these in its sanitizer tree.
  set_property(GLOBAL APPEND PROPERTY KAIROS_UNIT_TEST_TARGETS ${T_NAME})
endfunction()

# A vm test that is a command line rather than a GoogleTest binary.
function(kairos_vm_script_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME vm.${T_NAME}
           COMMAND ${CMAKE_SOURCE_DIR}/tests/vm/run-or-report.sh
                   vm.${T_NAME} ${T_COMMAND})
  set_tests_properties(vm.${T_NAME} PROPERTIES
    LABELS vm FIXTURES_REQUIRED kairos_vm TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "KAIROS_VM_MODE=${KAIROS_VM_MODE};KAIROS_VM_RESULTS=${KAIROS_VM_RESULTS_DIR};KAIROS_BUILD_DIR=${CMAKE_BINARY_DIR};KAIROS_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

function(kairos_vm_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;DEPENDS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE GTest::gtest GTest::gtest_main
                        Threads::Threads kairos_vm_testlib ${T_LIBS})
  if(T_DEPENDS)
    add_dependencies(${T_NAME} ${T_DEPENDS})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_test(NAME vm.${T_NAME}
           COMMAND ${CMAKE_SOURCE_DIR}/tests/vm/run-or-report.sh
                   vm.${T_NAME} $<TARGET_FILE:${T_NAME}>)
  set_tests_properties(vm.${T_NAME} PROPERTIES
    LABELS vm FIXTURES_REQUIRED kairos_vm TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "KAIROS_VM_MODE=${KAIROS_VM_MODE};KAIROS_VM_RESULTS=${KAIROS_VM_RESULTS_DIR};KAIROS_BUILD_DIR=${CMAKE_BINARY_DIR};KAIROS_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
