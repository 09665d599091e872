"""maps subpackage."""
