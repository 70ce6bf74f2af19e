"""The stack program: the config schema (the one schema) and the program that wires it."""
