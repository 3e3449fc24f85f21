"""Application services: they wire adapters (storage) to the pure core for the edges."""
