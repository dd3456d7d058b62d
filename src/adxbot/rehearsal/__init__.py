"""Rehearsals: the live bot against the simulator, through failures, before real money."""
