"""Music that serves the edit: ducking under dialogue, tempo fitted to the cuts, beats, stems."""
