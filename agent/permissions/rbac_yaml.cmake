# Build-time script (cmake -P) around `agentctl gen rbac`, which prints the RBAC
# manifest for the permissions the loaded actions declare.
#   -DMODE=generate -DAGENTCTL=<agentctl> -DPLUGIN_DIR=<build>/plugins -DOUT=<file>
#       writes the manifest of the build's (the shipped) plugins to OUT, using a
#       config with no exec plugins and no tasks, so defaults decide namespaces.
#   -DMODE=check -DGENERATED=<file> -DCOMMITTED=<repo>/conf/rbac.yaml
#       fails, showing the difference and how to regenerate, when they differ.
if(MODE STREQUAL "generate")
  get_filename_component(_dir ${OUT} DIRECTORY)
  set(_work ${_dir}/rbac-gen)
  file(MAKE_DIRECTORY ${_work})
  set(_config ${_work}/agent.toml)
  file(WRITE ${_config} "[agent]\nplugin_dir = \"${PLUGIN_DIR}\"\nallow_unsafe_plugin_owner = true\n"
    "exec_plugin_dir = \"${_work}/no-exec-plugins\"\nstate_dir = \"${_work}/state\"\nsocket = \"${_work}/agent.sock\"\n")
  execute_process(COMMAND ${AGENTCTL} --config ${_config} gen rbac
    OUTPUT_FILE ${OUT}.tmp ERROR_VARIABLE _err RESULT_VARIABLE _rc TIMEOUT 60)
  if(NOT _rc EQUAL 0 OR NOT _err STREQUAL "")
    file(REMOVE ${OUT}.tmp)
    message(FATAL_ERROR "`agentctl gen rbac` exited ${_rc}: ${_err}")
  endif()
  file(RENAME ${OUT}.tmp ${OUT})
elseif(MODE STREQUAL "check")
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${GENERATED} ${COMMITTED} RESULT_VARIABLE _same)
  if(NOT _same EQUAL 0)
    execute_process(COMMAND diff -u ${COMMITTED} ${GENERATED} OUTPUT_VARIABLE _diff)
    message(FATAL_ERROR "conf/rbac.yaml is not what the shipped plugins' permission tables generate "
      "(${GENERATED}). If the tables are right, regenerate and commit it:\n"
      "  ninja -C <build> update-rbac && git add conf/rbac.yaml\n${_diff}")
  endif()
  message(STATUS "conf/rbac.yaml equals the generated manifest")
else()
  message(FATAL_ERROR "MODE must be generate or check")
endif()
