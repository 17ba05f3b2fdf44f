"""The benchmark harness: builds the C helpers, launches luasup and its
peers under identical conditions, and turns what it measures into rows with
a median, a spread and a ratio to a reference taken in the same run."""
