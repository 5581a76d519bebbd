"""The simulated ERP bridge (SPEC D1, S9): speaks docs/erp-bridge.md for the demo, the tests and bench/."""
