"""coverage subpackage."""
