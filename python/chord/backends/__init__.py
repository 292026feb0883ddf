"""Per-device kernel registrations for the ops declared in ``chord.ops``."""
