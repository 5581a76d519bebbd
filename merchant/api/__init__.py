"""The Open API for merchants' ERPs (SPEC A1-A3), under /api/v1/."""
