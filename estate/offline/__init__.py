"""The offline engine: mock runtime, mocks, the pack over the Analyzer protocol, the gate."""
