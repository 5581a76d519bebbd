"""The ERP bridge connector (SPEC S9): the HTTP JSON contract in docs/erp-bridge.md."""
