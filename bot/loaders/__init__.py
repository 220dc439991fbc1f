"""Readers of counselor- and editor-owned files (content/, dialogues/) into validated core objects."""
