"""Understanding free text: the embedded intent classifier (default) and the optional Rasa server client."""
