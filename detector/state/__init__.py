"""The state a nightly run keeps between nights (nightly.md, "The state directory"): Delta Lake
tables of the CDR rows held, in the engine's compact form, and of the nights that wrote them."""
