"""AWS helpers for the single-instance deployment (playbooks/aws.yml): IAM policy, budgets, teardown."""
