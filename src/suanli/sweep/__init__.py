"""Sweeps: many simulations (profiles x seeds) as Ray tasks, and their summary across seeds.

``plan.py`` turns the command line into tasks and checks every input before a task starts;
``ray_run.py`` runs the tasks on a local Ray it starts or on an existing cluster, retrying a
failed task once; ``summary.py`` writes means with 95% intervals and a plot. Each task is one
``suanli simulate --profile P --compare ''`` run and writes the same ``metrics.json``.
"""
