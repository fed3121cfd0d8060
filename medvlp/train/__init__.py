"""Training: task (model + loss), loop, distributed setup, precision, optimisation, checkpoints, tracking."""
