"""Files users write: federations, job queues and scheduling profiles (YAML), parsed into domain
values with errors that name the file, the field, the value and the fix."""
