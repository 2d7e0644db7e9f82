# optim/: AdamW, LR schedules, clipping; MPI collectives on 1 and 2 ranks.
griffin_c_test(test_optim "optim" test_optim.c)
# the trainable set (train.freeze / train.trainable): frozen tensors in backward and in ZeRO-1
griffin_c_test(test_trainable "optim;model" test_trainable.c)

griffin_c_test(test_dist "optim;mpi" test_dist.c)
set_tests_properties(test_dist PROPERTIES
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
add_test(NAME test_dist_np2
  COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 --oversubscribe $<TARGET_FILE:test_dist> 2)
set_tests_properties(test_dist_np2 PROPERTIES LABELS "optim;mpi" TIMEOUT 120
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
# one rank failing a CHECK must stop all ranks (griffin_abort_hook = MPI_Abort), not hang
add_test(NAME test_dist_abort
  COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 --oversubscribe $<TARGET_FILE:test_dist> abort)
set_tests_properties(test_dist_abort PROPERTIES LABELS "optim;mpi" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "rank 1 stops on purpose"
  FAIL_REGULAR_EXPRESSION "passed the barrier"
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
