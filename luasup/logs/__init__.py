"""The log stream bus: child output routed by the policy's rules to console, file, ring, HTTP, process and function sinks."""
