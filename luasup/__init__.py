"""luasup: a PID 1 and process supervisor whose policy is a Lua script."""

__version__ = "0.1.0"
