"""Benchmarks of hyperparameter optimizers on unseen datasets (leave-one-dataset-out)."""
