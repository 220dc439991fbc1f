"""The counselor side: REST API over the case queue and the live event stream."""
