"""Production monitoring: request logs read back, windows judged, alerts and their actions."""
