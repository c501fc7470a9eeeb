"""Helpers for the deep-learning frameworks, imported only by the plugins that use them: torch allocator, torch state, keras/tensorflow import."""
