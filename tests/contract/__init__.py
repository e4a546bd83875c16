"""The Store contract suite: one behavioural suite run against every Store."""
