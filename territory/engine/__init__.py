"""The assignment engine: which rep owns which account, with a proven bound on how good the answer is."""
