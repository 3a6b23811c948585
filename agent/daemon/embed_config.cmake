# Writes the default config file into a C++ header as a raw string.
file(READ ${IN} text)
file(WRITE ${OUT} "// Generated from conf/agent.toml: the embedded default configuration.\n#pragma once\nnamespace nodeagent {\ninline constexpr const char* kDefaultConfigText = R\"NODEAGENT_CONF(${text})NODEAGENT_CONF\";\n}\n")
