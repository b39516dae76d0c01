# Run after each test program is linked (see t2m_add_module_tests): lists its doctest TEST_CASEs and
# writes one CTest test per case, so `ctest -j` schedules the cases of one program in parallel.
# Not doctest's own doctest_discover_tests: it splits the listing on ';' (several case names contain
# one), which would register bogus names and silently drop the real cases.
# Inputs: EXE, MODULE, LABELS (';'-free), TIMEOUT, OUT.
cmake_minimum_required(VERSION 3.20)
execute_process(COMMAND "${EXE}" --list-test-cases --no-intro=true
  OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} --list-test-cases failed (${rc}): ${err}")
endif()
# ';' in a name becomes '?': a valid CTest name and, in doctest's filter, a wildcard matching the ';'.
string(REPLACE ";" "?" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(script "")
set(seen "")
set(count 0)
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES "^=+$" OR line MATCHES "^\\[doctest\\] ")
    continue()
  endif()
  set(name "${MODULE}: ${line}")
  if(name IN_LIST seen)  # two cases of one name: the filter runs both, register it once
    continue()
  endif()
  list(APPEND seen "${name}")
  # doctest filters are comma-separated: escape the commas of the name.
  string(REPLACE "," "\\," filter "${line}")
  string(APPEND script
    "add_test([==[${name}]==] [==[${EXE}]==] [==[--test-case=${filter}]==] --no-intro=true)\n"
    "set_tests_properties([==[${name}]==] PROPERTIES TIMEOUT ${TIMEOUT} LABELS \"${LABELS}\""
    " FAIL_REGULAR_EXPRESSION [==[test cases: +0 [|]]==])\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${EXE} lists no test case")
endif()
file(WRITE "${OUT}" "${script}")
