"""Music: the score type, MIDI writing and reading, audio rendering."""
