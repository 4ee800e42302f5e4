"""Usage alerts, lifetime usage and progressive billing (lago-semantics.md §10, §11)."""
