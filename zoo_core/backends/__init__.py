"""Framework helpers for the plugins that use them: torch allocator, torch state, keras/tensorflow import."""
