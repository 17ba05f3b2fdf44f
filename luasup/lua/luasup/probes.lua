-- Probes and plumbing for init (being written).
local M = {}

function M.install(init, argerror, check)
end

return M
