"""CRM sources: each maps a system's own records to the canonical raw contract (territory.contract)."""
