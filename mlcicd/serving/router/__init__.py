"""The local traffic router: one process per environment splitting traffic across variants."""
