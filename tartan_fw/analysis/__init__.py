"""Reading finished runs back: significance tests, comparison tables and figures."""
