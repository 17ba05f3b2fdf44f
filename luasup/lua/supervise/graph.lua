-- The dependency graph of a set of declarations, checked before anything
-- starts (sup.run) and before a reload applies anything.
local M = {}

--- M.error(order, specs) -> nil, or what is wrong: an unknown dependency
-- or a cycle. order: names as declared; specs: name -> spec (with .after).
function M.error(order, specs)
    for _, name in ipairs(order) do
        for _, dep in ipairs(specs[name].after) do
            if not specs[dep] then
                return ("service %s: unknown dependency '%s'"):format(name, dep)
            end
        end
    end
    local state, path = {}, {}
    local function visit(name)
        if state[name] == 'done' then
            return nil
        elseif state[name] == 'open' then
            local from = 1
            while path[from] ~= name do from = from + 1 end
            local cycle = { unpack(path, from) }
            cycle[#cycle + 1] = name
            return 'dependency cycle: ' .. table.concat(cycle, ' -> ')
        end
        state[name], path[#path + 1] = 'open', name
        for _, dep in ipairs(specs[name].after) do
            local err = visit(dep)
            if err then return err end
        end
        path[#path], state[name] = nil, 'done'
    end
    for _, name in ipairs(order) do
        local err = visit(name)
        if err then return err end
    end
end

return M
