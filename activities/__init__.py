"""Activities: every side effect of a case workflow happens here, never in workflow code."""
