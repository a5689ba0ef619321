"""The library's values: results, errors, validation, redaction; it imports nothing of the library."""
