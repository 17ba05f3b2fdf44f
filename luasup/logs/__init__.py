"""The log stream bus: each line a child writes becomes a record, routed by
the policy (routes.py) to any number of sinks, each with a bounded queue of
its own (sink.py)."""
