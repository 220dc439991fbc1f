"""The application layer: the message pipeline, casework, the running service's parts and the journal."""
