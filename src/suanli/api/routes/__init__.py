"""One routes module per resource; each route parses, calls a service, renders."""
