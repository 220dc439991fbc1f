"""Pure domain logic: takes data in, returns decisions; imports nothing that does I/O."""
