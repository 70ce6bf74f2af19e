"""Analyses of a rendered inventory: cost, critical path, data-loss diff, IAM evaluation."""
