"""Python script nodes: a table script and networks created, trained and applied by the user's code."""
