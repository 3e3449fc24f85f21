"""The `tot` command: the composition root that wires settings, services and edges."""
