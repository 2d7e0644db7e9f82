# sources of rlhf/ (appended to GRIFFIN_SOURCES)
list(APPEND GRIFFIN_SOURCES rlhf/reward.c rlhf/dpo.c rlhf/logprobs.c rlhf/policy.c rlhf/rollout.c rlhf/order.c
  rlhf/reward_model.c rlhf/ppo.c)
