"""One client across channels: proof codes, recognition and merge (with undo)."""
