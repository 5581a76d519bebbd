"""The ERP polling connector's pipelines and state (SPEC S9): pull the bridge's change feeds under the sync
switches, hand it new orders. The bridge's contract is docs/erp-bridge.md."""
