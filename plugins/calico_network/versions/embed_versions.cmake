# Writes calico-versions.toml into a C++ header as a raw string: the built-in
# version table calico-network falls back to when the installed file is missing.
file(READ ${IN} text)
string(FIND "${text}" ")CALICO_VERSIONS\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )CALICO_VERSIONS\"")
endif()
file(WRITE ${OUT} "// Generated from plugins/calico_network/versions/calico-versions.toml: the built-in version table.\n#pragma once\nnamespace nodeagent::calico {\ninline constexpr const char* kBuiltinCalicoVersionsText = R\"CALICO_VERSIONS(${text})CALICO_VERSIONS\";\n}\n")
