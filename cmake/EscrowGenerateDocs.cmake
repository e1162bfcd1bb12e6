# Run at build time (app/CMakeLists.txt): the completions and the man page, printed by the escrow
# binary from its own command definitions. Usage: cmake -DESCROW=bin -DOUT=dir -P this-file
function(escrow_generate file)
  execute_process(COMMAND ${ESCROW} ${ARGN} OUTPUT_FILE ${OUT}/${file}.tmp RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "escrow ${ARGN} failed: ${result}")
  endif()
  file(RENAME ${OUT}/${file}.tmp ${OUT}/${file})
endfunction()
escrow_generate(escrow.bash completion bash)
escrow_generate(_escrow completion zsh)
escrow_generate(escrow.fish completion fish)
escrow_generate(escrow.1 man)
